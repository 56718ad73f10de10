"""usagegraph: a GraphQL server for usage analytics of developer platforms."""

__version__ = "0.1.0"
