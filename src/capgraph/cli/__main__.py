from capgraph.cli.main import main

main()
