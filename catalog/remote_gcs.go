//go:build !nogcs

package catalog

import (
	"context"
	"fmt"
	"os"

	"gocloud.dev/blob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/gcp"
	"golang.org/x/oauth2/google"
)

// openGCS opens a Google Cloud Storage bucket: with the credentials
// entry's service account (token: the JSON key file's path, or
// service_account_json: its contents), anonymous: true for public
// buckets, else the application default credentials. Build with
// -tags nogcs to leave the driver out.
func openGCS(ctx context.Context, r remoteURL, cred map[string]any) (*blob.Bucket, error) {
	if err := checkCredKeys(cred, "gs", "token", "service_account_json", "anonymous"); err != nil {
		return nil, err
	}
	if len(r.query) > 0 {
		return nil, fmt.Errorf("%s: gs URLs take no query parameters here; put options in credentials", r.raw)
	}
	if credString(cred, "anonymous") == "true" {
		return gcsblob.OpenBucket(ctx, gcp.NewAnonymousHTTPClient(gcp.DefaultTransport()), r.bucket, nil)
	}
	var creds *google.Credentials
	var err error
	js := []byte(credString(cred, "service_account_json"))
	if file := credString(cred, "token"); file != "" {
		if js, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("gs credentials token: %w", err)
		}
	}
	if len(js) > 0 {
		creds, err = google.CredentialsFromJSON(ctx, js, "https://www.googleapis.com/auth/devstorage.read_write")
	} else {
		creds, err = gcp.DefaultCredentials(ctx)
	}
	if err != nil {
		return nil, err
	}
	client, err := gcp.NewHTTPClient(gcp.DefaultTransport(), gcp.CredentialsTokenSource(creds))
	if err != nil {
		return nil, err
	}
	return gcsblob.OpenBucket(ctx, client, r.bucket, nil)
}
