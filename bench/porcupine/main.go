// Command porcupine-check checks a faultline history.jsonl with Porcupine
// (github.com/anishathalye/porcupine), for bench/porcupine_compare.sh: the
// baseline run on the very file `faultline check --model kv` reads.
//
//	porcupine-check [-timeout S] [-clock line|ns] [-info-reads keep|drop] HISTORY.jsonl
//
// It prints one line:
//
//	verdict=ok|illegal|unknown ops=N elapsed_s=S parse_s=P partitions=K
//
// ops: operations handed to Porcupine; elapsed_s: CheckOperationsTimeout
// alone; parse_s: reading and converting the file. Exit 0 ok, 1 illegal,
// 3 unknown (timeout), 2 bad input.
//
// The history, as faultline reads it (DESIGN.md, Jepsen's op model): one
// JSON object a line, {"process","type":"invoke|ok|fail|info","f":"read|
// write|cas","key","value","time"}; a completion pairs with the preceding
// invoke of its process; a cas value is [old, new]; an ok read carries the
// value read; a register starts as null.
//
// The translation to Porcupine:
//   - fail: the operation did not happen, dropped.
//   - info, or an invoke never completed: indeterminate. Return time
//     math.MaxInt64 and an output that the model accepts whatever the state,
//     as Porcupine's author recommends (porcupine issue #8): a write or cas
//     then may take effect at any point after its call, or (linearized after
//     everything else) in effect never. With -info-reads drop, info reads,
//     which constrain nothing, are left out (faultline's checker drops them).
//   - Model: Partition by key (P-compositionality); per key a cas-register
//     over value ids (each distinct JSON scalar text gets an int, null is 0),
//     so states compare with ==.
//   - Clock: faultline orders events by their line (a file's times are only
//     required not to go backwards), so by default each event's time for
//     Porcupine is its line number: both checkers see the same real-time
//     order. -clock ns uses the "time" field instead; the two orders agree
//     except between events with equal times, which Porcupine's sort (this
//     version orders by time only) may put either way.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/anishathalye/porcupine"
)

const (
	fRead uint8 = iota
	fWrite
	fCas
)

type input struct {
	key  int32
	f    uint8
	a, b int32 // write: a; cas: a old, b new
}

type output struct {
	value   int32 // read: the value read
	unknown bool  // indeterminate (info or never completed)
}

type line struct {
	Process *int64          `json:"process"`
	Type    string          `json:"type"`
	F       string          `json:"f"`
	Key     json.RawMessage `json:"key"`
	Value   json.RawMessage `json:"value"`
	Time    *int64          `json:"time"`
}

type pending struct {
	op   porcupine.Operation
	line int
}

func die(code int, format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "porcupine-check: "+format+"\n", args...)
	os.Exit(code)
}

func main() {
	timeout := flag.Float64("timeout", 60, "budget in seconds for the check (0: none)")
	clock := flag.String("clock", "line", "event time for Porcupine: line (line number) or ns (the time field)")
	infoReads := flag.String("info-reads", "keep", "keep or drop reads that ended in info")
	flag.Parse()
	if flag.NArg() != 1 || (*clock != "line" && *clock != "ns") ||
		(*infoReads != "keep" && *infoReads != "drop") {
		fmt.Fprintln(os.Stderr, "usage: porcupine-check [-timeout S] [-clock line|ns] [-info-reads keep|drop] HISTORY.jsonl")
		os.Exit(2)
	}
	path := flag.Arg(0)
	t0 := time.Now()
	ops, nkeys := readHistory(path, *clock == "ns", *infoReads == "drop")
	parse := time.Since(t0).Seconds()

	model := porcupine.Model{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			parts := make([][]porcupine.Operation, nkeys)
			for _, op := range history {
				k := op.Input.(input).key
				parts[k] = append(parts[k], op)
			}
			out := parts[:0]
			for _, p := range parts {
				if len(p) > 0 {
					out = append(out, p)
				}
			}
			return out
		},
		Init: func() interface{} { return int32(0) },
		Step: func(state, in, out interface{}) (bool, interface{}) {
			st := state.(int32)
			i := in.(input)
			o := out.(output)
			switch i.f {
			case fRead:
				return o.unknown || o.value == st, st
			case fWrite:
				return true, i.a
			default: // cas: an ok one must have matched; an unknown one may have failed
				if st == i.a {
					return true, i.b
				}
				return o.unknown, st
			}
		},
		// Equal left nil: Porcupine's default, == on the int32 states.
	}

	t1 := time.Now()
	res := porcupine.CheckOperationsTimeout(model, ops, time.Duration(*timeout*float64(time.Second)))
	elapsed := time.Since(t1).Seconds()
	verdict, code := "unknown", 3
	switch res {
	case porcupine.Ok:
		verdict, code = "ok", 0
	case porcupine.Illegal:
		verdict, code = "illegal", 1
	}
	fmt.Printf("verdict=%s ops=%d elapsed_s=%.6f parse_s=%.6f partitions=%d\n",
		verdict, len(ops), elapsed, parse, nkeys)
	os.Exit(code)
}

func readHistory(path string, nsClock, dropInfoReads bool) ([]porcupine.Operation, int) {
	f, err := os.Open(path)
	if err != nil {
		die(2, "%v", err)
	}
	defer f.Close()
	keys := map[string]int32{}
	values := map[string]int32{"null": 0}
	valueID := func(raw json.RawMessage, ln int) int32 {
		var c bytes.Buffer
		if len(raw) == 0 {
			return 0
		}
		if err := json.Compact(&c, raw); err != nil {
			die(2, "%s:%d: bad value: %v", path, ln, err)
		}
		if c.Len() > 0 && (c.Bytes()[0] == '[' || c.Bytes()[0] == '{') {
			die(2, "%s:%d: a register value must be a JSON scalar, not %s", path, ln, c.String())
		}
		s := c.String()
		id, ok := values[s]
		if !ok {
			id = int32(len(values))
			values[s] = id
		}
		return id
	}

	var ops []porcupine.Operation
	open := map[int64]*pending{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	ln := 0
	var lastNs int64 = math.MinInt64
	for sc.Scan() {
		ln++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var l line
		if err := json.Unmarshal(text, &l); err != nil {
			die(2, "%s:%d: %v", path, ln, err)
		}
		if l.Process == nil || l.Time == nil {
			die(2, "%s:%d: needs \"process\" and \"time\"", path, ln)
		}
		if *l.Time < lastNs {
			die(2, "%s:%d: time goes backwards", path, ln)
		}
		lastNs = *l.Time
		t := int64(ln)
		if nsClock {
			t = *l.Time
		}
		proc := *l.Process
		if l.Type == "invoke" {
			if open[proc] != nil {
				die(2, "%s:%d: process %d invoked while its operation on line %d is open",
					path, ln, proc, open[proc].line)
			}
			var in input
			key := "" // no key: one register
			if len(l.Key) > 0 && string(l.Key) != "null" {
				if err := json.Unmarshal(l.Key, &key); err != nil {
					die(2, "%s:%d: \"key\" must be a string", path, ln)
				}
			}
			k, ok := keys[key]
			if !ok {
				k = int32(len(keys))
				keys[key] = k
			}
			in.key = k
			switch l.F {
			case "read":
				in.f = fRead
			case "write":
				in.f = fWrite
				in.a = valueID(l.Value, ln)
			case "cas":
				var pair []json.RawMessage
				if err := json.Unmarshal(l.Value, &pair); err != nil || len(pair) != 2 {
					die(2, "%s:%d: a cas value is [old, new]", path, ln)
				}
				in.f = fCas
				in.a = valueID(pair[0], ln)
				in.b = valueID(pair[1], ln)
			default:
				die(2, "%s:%d: \"f\" %q is not read, write or cas", path, ln, l.F)
			}
			open[proc] = &pending{porcupine.Operation{Input: in, Call: t}, ln}
			continue
		}
		p := open[proc]
		if p == nil {
			die(2, "%s:%d: %s completion for process %d, which has no operation open", path, ln, l.Type, proc)
		}
		delete(open, proc)
		op := p.op
		switch l.Type {
		case "ok":
			op.Return = t
			out := output{}
			if op.Input.(input).f == fRead {
				out.value = valueID(l.Value, ln)
			}
			op.Output = out
		case "fail":
			continue // did not happen
		case "info":
			if dropInfoReads && op.Input.(input).f == fRead {
				continue
			}
			op.Return = math.MaxInt64
			op.Output = output{unknown: true}
		default:
			die(2, "%s:%d: \"type\" %q", path, ln, l.Type)
		}
		ops = append(ops, op)
	}
	if err := sc.Err(); err != nil {
		die(2, "%s: %v", path, err)
	}
	// Invoked and never completed: indeterminate, like info. In invoke
	// order, so the result does not depend on map iteration.
	var rest []*pending
	for _, p := range open {
		rest = append(rest, p)
	}
	for i := 1; i < len(rest); i++ {
		for j := i; j > 0 && rest[j].line < rest[j-1].line; j-- {
			rest[j], rest[j-1] = rest[j-1], rest[j]
		}
	}
	for _, p := range rest {
		if dropInfoReads && p.op.Input.(input).f == fRead {
			continue
		}
		p.op.Return = math.MaxInt64
		p.op.Output = output{unknown: true}
		ops = append(ops, p.op)
	}
	return ops, len(keys)
}
