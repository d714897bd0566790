/**
 * The routes of the search API, defined once: the search function serves them, API Gateway
 * (`infra/search-api.ts`) and the local stack route them to it, the monitor forwards them. Kept apart
 * from the handler so that the CDK app and the CLI read them without loading the search code.
 */
export const SEARCH_ROUTES = ['/search', '/similar'] as const;
export type SearchRoute = (typeof SEARCH_ROUTES)[number];

/** Every search route to one handler, as the local stack's API Gateway takes its routes. */
export const searchRoutes = <T>(handler: T): Record<SearchRoute, T> =>
  Object.fromEntries(SEARCH_ROUTES.map((route) => [route, handler])) as Record<SearchRoute, T>;
