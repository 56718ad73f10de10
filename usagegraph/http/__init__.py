"""The HTTP surface: the GraphQL endpoint, its middleware, admission, rate limits and the worker board."""
