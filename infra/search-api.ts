/**
 * The search HTTP API: the search function (or its `live` alias with instances kept warm) behind
 * the routes of `tasks/search-routes.ts`, authorized as the `apiAuthorization` setting says,
 * throttled, with access logs, and CORS for the origins the settings list only.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import {
  CorsHttpMethod,
  HttpApi,
  HttpMethod,
  HttpStage,
  type IHttpRouteAuthorizer,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { DeployedSettings } from '../config/settings.ts';
import { SEARCH_ROUTES } from '../tasks/search-routes.ts';

/** What the API is built with. */
export interface SearchApiProps {
  readonly search: lambda.Function;
  readonly config: DeployedSettings;
  /** Instances of the search function kept warm (0: none). */
  readonly provisionedConcurrency: number;
}

/** Builds the search API in `scope`. */
export function createSearchApi(scope: Construct, props: SearchApiProps): HttpApi {
  const { config } = props;
  // CORS only for the origins the settings list: by default a browser page elsewhere gets no
  // answer it may read, while server-side callers (and the monitor's proxy) need none.
  const api = new HttpApi(scope, 'SearchApi', {
    apiName: `${Stack.of(scope).stackName}-search`,
    createDefaultStage: false,
    ...(config.corsOrigins.length > 0
      ? {
          corsPreflight: {
            allowOrigins: [...config.corsOrigins],
            allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST],
            allowHeaders: ['content-type', 'authorization'],
          },
        }
      : {}),
  });
  const integration = new HttpLambdaIntegration('SearchIntegration', searchTarget(scope, props));
  const authorizer = searchAuthorizer(config);
  for (const path of SEARCH_ROUTES)
    api.addRoutes({
      path,
      methods: [HttpMethod.GET, HttpMethod.POST],
      integration,
      ...(authorizer ? { authorizer } : {}),
    });

  // The default stage, with access logs (request id, caller, route, status, latency), and
  // throttled: whoever calls it cannot read the table as fast as they like.
  new HttpStage(scope, 'SearchStage', {
    httpApi: api,
    stageName: '$default',
    autoDeploy: true,
    throttle: { rateLimit: config.apiRateLimit, burstLimit: config.apiBurstLimit },
    accessLogSettings: {
      destination: new LogGroupLogDestination(
        new logs.LogGroup(scope, 'SearchAccessLogs', {
          retention: logs.RetentionDays.ONE_MONTH,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      ),
      format: AccessLogFormat.jsonWithStandardFields(),
    },
  });
  return api;
}

/** What the search API calls: the function, or its `live` alias with instances kept warm. */
function searchTarget(scope: Construct, props: SearchApiProps): lambda.IFunction {
  if (props.provisionedConcurrency === 0) return props.search;
  return new lambda.Alias(scope, 'SearchLive', {
    aliasName: 'live',
    version: props.search.currentVersion,
    provisionedConcurrentExecutions: props.provisionedConcurrency,
  });
}

/** The search routes' authorizer for the apiAuthorization setting; none when it is `none`. */
function searchAuthorizer(config: DeployedSettings): IHttpRouteAuthorizer | undefined {
  switch (config.apiAuthorization) {
    case 'iam':
      return new HttpIamAuthorizer();
    case 'jwt':
      return new HttpJwtAuthorizer('SearchJwtAuthorizer', config.jwtIssuer!, { jwtAudience: [...config.jwtAudience] });
    case 'none':
      return undefined;
  }
}
