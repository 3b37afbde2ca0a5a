"""Search and resolution: keyword and dense indexes over capabilities, fused with trust."""
