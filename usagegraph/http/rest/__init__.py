"""REST routes of the APIs usagegraph stands in for, each a persisted GraphQL document (docs/rest.md); mounted by\nusagegraph.http.rest.mount."""
