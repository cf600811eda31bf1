module flightdeck/sim/flyctl-client

go 1.22
