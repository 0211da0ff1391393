//go:build nos3

package catalog

import (
	"context"
	"fmt"

	"gocloud.dev/blob"
)

func openS3(context.Context, remoteURL, map[string]any) (*blob.Bucket, error) {
	return nil, fmt.Errorf("this binary was built with -tags nos3: it has no s3:// driver")
}
