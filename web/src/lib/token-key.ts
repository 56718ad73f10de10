export const TOKEN_KEY = "usagegraph.token";
