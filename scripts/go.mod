module keycard/scripts

go 1.26

require keycard/pkg v0.0.0

replace keycard/pkg => ../pkg
