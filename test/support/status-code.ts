/** The HTTP code of the Status a call throws, or 0 when it returns. */
export function thrownCode(f: () => unknown): number {
  try {
    f();
    return 0;
  } catch (err) {
    return (err as { status: { code: number } }).status.code;
  }
}
