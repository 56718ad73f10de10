"""One GraphQL request from document to response: context, loaders, validation, cost and the compiled executor."""
