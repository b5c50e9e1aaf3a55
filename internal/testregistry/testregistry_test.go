package testregistry

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"testing"
)

func TestStart(t *testing.T) {
	plain := Start(t, Options{})
	resp, err := http.Get("http://" + plain.Host + "/v2/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("plain registry: %v %v", resp, err)
	}
	resp.Body.Close()
	stopped := Start(t, Options{})
	stopped.Stop()
	if _, err := http.Get("http://" + stopped.Host + "/v2/"); err == nil {
		t.Fatal("the registry answers after Stop")
	}
	stopped.Stop()

	auth := Start(t, Options{Auth: true})
	pem, err := os.ReadFile(auth.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err = c.Get("https://" + auth.Host + "/v2/")
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("auth registry without credentials: %v %v", resp, err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("GET", "https://"+auth.Host+"/v2/", nil)
	req.SetBasicAuth(auth.User, auth.Password)
	resp, err = c.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("auth registry with credentials: %v %v", resp, err)
	}
	resp.Body.Close()
}
