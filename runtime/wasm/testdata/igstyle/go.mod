module example.com/testguest/igstyle

go 1.24
