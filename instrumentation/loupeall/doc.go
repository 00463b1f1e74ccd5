// Package loupeall instruments everything a service talks to from one
// value: HTTP servers and clients, gRPC servers and clients, database/sql,
// pgx pools, go-redis clients and GenAI calls — the "instrument all" of other
// ecosystems, without its hidden global side effects.
//
// Nothing happens at import time and nothing global is changed: [New] takes
// the providers once (zero fields mean the OpenTelemetry globals at the time
// of the call) and each method wraps exactly the object it is given, with the
// package that does the work (loupehttp, loupegrpc, loupesql, loupepgx,
// louperedis, genai). Their own options pass through for anything else.
//
//	inst := loupeall.New(loupeall.Providers{
//		TracerProvider: tp, MeterProvider: mp, Propagators: prop, // from the telemetry facade
//	})
//	handler := inst.HTTPHandler(mux)
//	srv := grpc.NewServer(inst.GRPCServerOption())
//	conn, _ := grpc.NewClient(addr, creds, inst.GRPCDialOption())
//	pool, _ := inst.PgxPool(ctx, dsn)
//	_ = inst.Redis(rdb)
//	llm := inst.GenAI()
//
// Importing this package compiles in every wrapped library (gRPC, pgx,
// go-redis, …); a service that needs one of them imports that package alone.
package loupeall
