"""Entry points: the inbox and its handlers, the HTTP routes and the documents they serve."""
