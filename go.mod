module github.com/airouter/airouter

go 1.26
