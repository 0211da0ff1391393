//go:build !nos3

package catalog

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"
)

// S3 credentials keys: Kedro/fsspec names (key, secret, token,
// endpoint_url) and the AWS ones, plus region and path style.
var s3CredKeys = []string{"key", "secret", "token", "aws_access_key_id", "aws_secret_access_key", "aws_session_token",
	"endpoint_url", "endpoint", "region", "region_name", "use_path_style"}

// openS3 opens an S3 (or S3-protocol: MinIO, Ceph, R2 …) bucket. Keys
// and endpoint come from the credentials entry when given, else from the
// AWS environment and shared config; the URL may add ?region=,
// ?endpoint= and ?use_path_style=.
func openS3(ctx context.Context, r remoteURL, cred map[string]any) (*blob.Bucket, error) {
	if err := checkCredKeys(cred, "s3", s3CredKeys...); err != nil {
		return nil, err
	}
	for k := range r.query {
		switch k {
		case "region", "endpoint", "use_path_style":
		default:
			return nil, fmt.Errorf("%s: unknown query parameter %q (region, endpoint, use_path_style)", r.raw, k)
		}
	}
	region := firstNonEmpty(r.query.Get("region"), credString(cred, "region", "region_name"))
	endpoint := firstNonEmpty(r.query.Get("endpoint"), credString(cred, "endpoint_url", "endpoint"))
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	key := credString(cred, "key", "aws_access_key_id")
	secret := credString(cred, "secret", "aws_secret_access_key")
	if (key == "") != (secret == "") {
		return nil, fmt.Errorf("s3 credentials need both key and secret (aws_access_key_id and aws_secret_access_key)")
	}
	if key != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			awscreds.NewStaticCredentialsProvider(key, secret, credString(cred, "token", "aws_session_token"))))
	}
	if endpoint != "" {
		// S3-compatible servers rarely speak the newest checksum headers.
		opts = append(opts,
			awsconfig.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
			awsconfig.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	pathStyle := endpoint != ""
	if v := firstNonEmpty(r.query.Get("use_path_style"), credString(cred, "use_path_style")); v != "" {
		if pathStyle, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("use_path_style %q: want true or false", v)
		}
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = pathStyle
	})
	return s3blob.OpenBucket(ctx, client, r.bucket, &s3blob.Options{RequestChecksumCalculation: cfg.RequestChecksumCalculation})
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
