//go:build nogcs

package catalog

import (
	"context"
	"fmt"

	"gocloud.dev/blob"
)

func openGCS(context.Context, remoteURL, map[string]any) (*blob.Bucket, error) {
	return nil, fmt.Errorf("this binary was built with -tags nogcs: it has no gs:// driver")
}
