// The one entry to @peculiar/x509. It resolves its algorithm providers through tsyringe, which needs the
// reflect polyfill loaded before the library; importing the library anywhere else could run it first.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };
