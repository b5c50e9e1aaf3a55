module igstyle

go 1.24
