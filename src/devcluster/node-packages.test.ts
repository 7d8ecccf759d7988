// The e2e setup installs what the test node needs: the same packages, found by the same files, so that
// a command of the same name from another package (iproute2's `bridge`) never passes for one.
import assert from "node:assert/strict";
import { it } from "node:test";
import { hasCommand, SYSTEM_COMMANDS } from "../../test/support/system-packages.ts";
import { NODE_PACKAGES } from "./node.ts";

it("every package the node needs is installed by the e2e setup, checked by the file the node checks", () => {
  const installed = new Set(Object.values(SYSTEM_COMMANDS));
  for (const [file, pkg] of Object.entries(NODE_PACKAGES)) {
    assert.ok(installed.has(pkg), `${pkg} is not installed by the e2e setup`);
    const by = Object.entries(SYSTEM_COMMANDS).find(([, p]) => p === pkg)?.[0] as string;
    // A command name only for a file in a PATH directory; anywhere else, the file itself.
    const onPath = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].some((d) => file === `${d}/${by}`);
    assert.ok(by === file || onPath, `${pkg}: the setup checks "${by}", the node ${file}`);
  }
  assert.equal(hasCommand("/no/such/file", ""), false);
});
