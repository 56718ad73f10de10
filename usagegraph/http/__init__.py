"""HTTP surfaces of the server beside the GraphQL endpoint."""
