//go:build noazure

package catalog

import (
	"context"
	"fmt"

	"gocloud.dev/blob"
)

func openAzure(context.Context, remoteURL, map[string]any) (*blob.Bucket, error) {
	return nil, fmt.Errorf("this binary was built with -tags noazure: it has no azblob:// driver")
}
