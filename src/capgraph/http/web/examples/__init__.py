"""The runnable examples shown on /docs/agents. They are scripts (they talk to a registry when
run): the page reads their text, and tests/integration/test_agents_page.py runs the code
blocks of the page's markdown mirror against a real server. Never import them."""
