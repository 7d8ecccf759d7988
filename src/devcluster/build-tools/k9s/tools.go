//go:build tools

// Keeps k9s, the terminal UI the e2e suite drives headless in tmux, and its dependencies in this
// module's build list (go mod tidy records them; builds run with -mod=readonly). Its own module:
// k9s pins helm v3 and older k8s.io modules than the parent module's helm v4.
package tools

import (
	_ "github.com/derailed/k9s"
)
