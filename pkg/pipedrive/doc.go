// Package pipedrive is the native connector of a Pipedrive company: app
// type "pipedrive". It talks to Pipedrive's REST API v1 with a small
// net/http client (Pipedrive publishes no Go SDK), authenticated by an
// admin user's API token in the x-api-token header (never the api_token
// query parameter, so the token stays out of URLs and logs).
package pipedrive
