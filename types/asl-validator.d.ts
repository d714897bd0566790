// asl-validator's part ddb-faiss uses (it ships no declaration for its main entry).
declare module 'asl-validator' {
  interface ValidationResult {
    isValid: boolean;
    errors: { message?: string; 'Error code'?: string }[];
    errorsText(separator?: string): string;
  }
  /** Validates a definition. It mutates its input: pass a copy. */
  export default function validator(
    definition: unknown,
    options?: { checkPaths?: boolean; checkArn?: boolean },
  ): ValidationResult;
}
