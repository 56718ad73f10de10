"""The HTTP surface: the GraphQL endpoint, its middleware, admission, rate limits and the worker board, the
dashboard, the REST routes and the OpenTelemetry intake."""
