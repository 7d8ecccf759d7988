import { KubegateError } from "../status/errors.ts";

/**
 * A label or field selector that Kubernetes would reject. The message names the selector, the requirement
 * (or term) at fault and what is wrong with it. Served as a 400 Bad Request, as kube-apiserver does.
 */
export class SelectorError extends KubegateError {
  constructor(message: string) {
    super(message, { httpCode: 400, code: "KUBEGATE_BAD_SELECTOR" });
    this.name = "SelectorError";
  }
}

const MAX_ECHO = 200;

/** Quotes user input for an error message, cutting very long input short. */
export function quote(text: string): string {
  return JSON.stringify(text.length > MAX_ECHO ? `${text.slice(0, MAX_ECHO)}…` : text);
}
