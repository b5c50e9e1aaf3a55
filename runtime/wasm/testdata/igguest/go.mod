module example.com/testguest/igguest

go 1.24
