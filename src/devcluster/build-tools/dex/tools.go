//go:build tools

// Keeps Dex, the identity provider the OIDC e2e test signs in with, and its dependencies in this
// module's build list (go mod tidy records them; builds run with -mod=readonly). Its own module so
// that Dex's dependencies do not move helm's in the parent module.
package tools

import (
	_ "github.com/dexidp/dex/cmd/dex"
)
