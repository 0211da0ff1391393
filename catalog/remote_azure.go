//go:build !noazure

package catalog

import (
	"context"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
)

// openAzure opens an Azure Blob Storage container (azblob://container/key):
// with the credentials entry's connection_string, or account_name with
// account_key (or sas_token), else from the environment
// (AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN, or
// the default Azure identity). Build with -tags noazure to leave the
// driver out.
func openAzure(ctx context.Context, r remoteURL, cred map[string]any) (*blob.Bucket, error) {
	if err := checkCredKeys(cred, "azblob", "connection_string", "account_name", "account_key", "sas_token", "storage_domain"); err != nil {
		return nil, err
	}
	if len(r.query) > 0 {
		return nil, fmt.Errorf("%s: azblob URLs take no query parameters here; put options in credentials", r.raw)
	}
	var client *container.Client
	var err error
	switch conn, account := credString(cred, "connection_string"), credString(cred, "account_name"); {
	case conn != "":
		client, err = container.NewClientFromConnectionString(conn, r.bucket, nil)
	case account != "":
		opts := azureblob.NewDefaultServiceURLOptions()
		opts.AccountName = account
		opts.SASToken = credString(cred, "sas_token")
		if d := credString(cred, "storage_domain"); d != "" {
			opts.StorageDomain = d
		}
		svc, serr := azureblob.NewServiceURL(opts)
		if serr != nil {
			return nil, serr
		}
		if key := credString(cred, "account_key"); key != "" {
			shared, kerr := container.NewSharedKeyCredential(account, key)
			if kerr != nil {
				return nil, kerr
			}
			u := strings.TrimSuffix(string(svc), "/") + "/" + r.bucket
			client, err = container.NewClientWithSharedKeyCredential(u, shared, nil)
		} else {
			client, err = azureblob.NewDefaultClient(svc, azureblob.ContainerName(r.bucket))
		}
	default:
		svc, serr := azureblob.NewServiceURL(azureblob.NewDefaultServiceURLOptions())
		if serr != nil {
			return nil, fmt.Errorf("%w (set AZURE_STORAGE_ACCOUNT, or give credentials with account_name)", serr)
		}
		client, err = azureblob.NewDefaultClient(svc, azureblob.ContainerName(r.bucket))
	}
	if err != nil {
		return nil, err
	}
	return azureblob.OpenBucket(ctx, client, nil)
}
