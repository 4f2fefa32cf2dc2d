module github.com/cronhook/cronhook/examples/go/receiver

go 1.19
