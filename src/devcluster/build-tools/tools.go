//go:build tools

// Keeps the pinned client programs the e2e suite drives (helm) and all of their dependencies in this
// module's build list, so that `go mod tidy` records them and builds run with -mod=readonly. A module
// of its own: helm brings newer k8s.io modules than the test cluster's kubernetes release.
package tools

import (
	_ "helm.sh/helm/v4/cmd/helm"
)
