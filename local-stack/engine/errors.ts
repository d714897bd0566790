/** Step Functions API errors, named as the service names them so the SDK maps them to its classes. */
export class StepFunctionsApiError extends Error {
  constructor(
    /** The service's error code, e.g. `ExecutionDoesNotExist`. */
    readonly code: string,
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
    this.name = code;
  }
}

export const notFound = (what: 'Execution' | 'StateMachine', arn: string): StepFunctionsApiError =>
  new StepFunctionsApiError(`${what}DoesNotExist`, `${what} does not exist: ${arn}`);

export const invalid = (code: string, message: string): StepFunctionsApiError =>
  new StepFunctionsApiError(code, message);
