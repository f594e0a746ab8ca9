// A static Go program (no libc) serving HTTP on loopback and fetching from itself: a GET with a
// body, a POST echoed back, concurrent requests from goroutines and a chunked response. The
// port is never printed; every line is the same on every run.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

// loopbackUp brings lo up where it is down (the gold kernel boots with it down; elsewhere it
// is already up), through SIOCGIFFLAGS and SIOCSIFFLAGS on a struct ifreq: the name in its
// first 16 bytes, the flags in the 16-bit word after it.
func loopbackUp() {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		return
	}
	defer syscall.Close(fd)
	var ifreq [40]byte
	copy(ifreq[:], "lo")
	ioctl := func(request uintptr) syscall.Errno {
		_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), request,
			uintptr(unsafe.Pointer(&ifreq[0])))
		return errno
	}
	if ioctl(syscall.SIOCGIFFLAGS) != 0 {
		return
	}
	flags := *(*uint16)(unsafe.Pointer(&ifreq[16]))
	if flags&syscall.IFF_UP == 0 {
		*(*uint16)(unsafe.Pointer(&ifreq[16])) = flags | syscall.IFF_UP
		ioctl(syscall.SIOCSIFFLAGS)
	}
}

func check(name string, ok bool, detail string) {
	if ok {
		fmt.Printf("ok %s\n", name)
	} else {
		fmt.Printf("FAIL %s: %s\n", name, detail)
		failed = true
	}
}

var failed bool

func handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello from the guest\n")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Echo-Length", strconv.Itoa(len(body)))
		w.Write([]byte(strings.ToUpper(string(body))))
	})
	mux.HandleFunc("/square", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil {
			http.Error(w, "bad n", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d", n*n)
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		flusher, ok := w.(http.Flusher)
		if !ok {
			http.Error(w, "no flusher", http.StatusInternalServerError)
			return
		}
		for i := 0; i < 5; i++ {
			fmt.Fprintf(w, "part %d\n", i)
			flusher.Flush()
		}
	})
	return mux
}

func get(client *http.Client, url string) (*http.Response, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

func main() {
	loopbackUp()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Printf("FAIL listen: %v\n", err)
		os.Exit(1)
	}
	server := &http.Server{Handler: handler()}
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	base := "http://" + listener.Addr().String()
	client := &http.Client{}

	resp, body, err := get(client, base+"/hello")
	check("get", err == nil && resp.StatusCode == 200 && body == "hello from the guest\n",
		fmt.Sprintf("%v %q", err, body))
	if err == nil {
		check("get content-length", resp.ContentLength == int64(len(body)),
			fmt.Sprint(resp.ContentLength))
		check("get content-type", resp.Header.Get("Content-Type") == "text/plain",
			resp.Header.Get("Content-Type"))
	}

	payload := strings.Repeat("echo me back ", 1000)
	presp, err := client.Post(base+"/echo", "text/plain", strings.NewReader(payload))
	if err != nil {
		check("post", false, err.Error())
	} else {
		echoed, rerr := io.ReadAll(presp.Body)
		presp.Body.Close()
		check("post echo", rerr == nil && string(echoed) == strings.ToUpper(payload),
			fmt.Sprintf("%v, %d bytes", rerr, len(echoed)))
		check("post length header",
			presp.Header.Get("X-Echo-Length") == strconv.Itoa(len(payload)),
			presp.Header.Get("X-Echo-Length"))
	}

	resp, _, err = get(client, base+"/echo")
	check("get on a POST-only path", err == nil && resp.StatusCode == 405, fmt.Sprint(err))
	resp, _, err = get(client, base+"/missing")
	check("not found", err == nil && resp.StatusCode == 404, fmt.Sprint(err))

	const workers = 16
	results := make([]string, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, results[i], errs[i] = get(client, fmt.Sprintf("%s/square?n=%d", base, i))
		}(i)
	}
	wg.Wait()
	all := true
	for i := 0; i < workers; i++ {
		if errs[i] != nil || results[i] != strconv.Itoa(i*i) {
			all = false
			check(fmt.Sprintf("concurrent request %d", i), false,
				fmt.Sprintf("%v %q", errs[i], results[i]))
		}
	}
	check("16 concurrent requests from goroutines", all, "see above")

	resp, body, err = get(client, base+"/chunked")
	check("chunked body", err == nil && body == "part 0\npart 1\npart 2\npart 3\npart 4\n",
		fmt.Sprintf("%v %q", err, body))
	if err == nil {
		check("chunked transfer encoding",
			len(resp.TransferEncoding) == 1 && resp.TransferEncoding[0] == "chunked" &&
				resp.ContentLength == -1,
			fmt.Sprint(resp.TransferEncoding, resp.ContentLength))
	}

	client.CloseIdleConnections()
	err = server.Shutdown(context.Background())
	check("shutdown", err == nil, fmt.Sprint(err))
	check("serve returns ErrServerClosed", <-served == http.ErrServerClosed, "")
	if failed {
		os.Exit(1)
	}
}
