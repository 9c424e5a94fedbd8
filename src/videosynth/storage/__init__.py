"""Result blobs: local folder with HMAC-signed links (default) or S3 with presigned links."""
