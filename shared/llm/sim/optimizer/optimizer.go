// Package optimizer is the simulated optimizer model: it answers one
// optimizer request (a meta-prompt around a data block) the way a diligent
// but fallible model would. It knows only its request. It reads the
// meta-prompt to learn what is asked (revised prompts, edits or
// demonstrations, or something else entirely), compares each failure's
// actual output with the expected one to name what differs, quoting it, and
// words fixes from a phrasebook of its own, drawn per call. It never sees
// how the primary works: whether a wording helps is found by the training
// loop, not known here. Every draw is a seeded hash of the request, so a
// run is reproducible. docs/simulator.md describes it.
package optimizer

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"

	"github.com/promptml/promptml/shared/llm"
)

// DefaultEchoRate is the share of calls in which the optimizer takes an
// instruction it finds inside a row's input for one meant for it, and
// copies it into the prompts: the prompt-injection weakness the pipeline's
// guards exist for.
const DefaultEchoRate = 0.35

// FixesPerProposal is how many patterns one proposal addresses at most.
const FixesPerProposal = 2

// Options configures a Model.
type Options struct {
	// Seed seeds every draw.
	Seed int64
	// EchoRate overrides DefaultEchoRate; negative means never.
	EchoRate float64
}

// Model is the simulated optimizer. It holds no state between calls and is
// safe for concurrent use.
type Model struct {
	seed     int64
	echoRate float64
}

// New returns an optimizer configured by o.
func New(o Options) *Model {
	m := &Model{seed: o.Seed, echoRate: o.EchoRate}
	if m.echoRate == 0 {
		m.echoRate = DefaultEchoRate
	}
	return m
}

// Answer replies to one optimizer request. An error means the request has
// no readable data block (a real model would answer anyway; the simulator
// says so, because no caller of it sends such a request).
func (m *Model) Answer(req *llm.Request) (string, error) {
	if req == nil {
		return "", fmt.Errorf("sim optimizer: nil request")
	}
	d, meta, err := split(req.Prompt)
	if err != nil {
		return "", fmt.Errorf("sim optimizer: %w", err)
	}
	meta = req.System + "\n" + meta
	c := call{m: m, d: d, req: req, draw: m.drawSeed(req)}
	shape := schemaShape(req.ResponseSchema)
	if !asksForPrompts(meta) {
		return c.offTask(meta, shape)
	}
	if shape == "" {
		shape = askedShape(meta)
	}
	if shape == "" {
		shape = strings.ToLower(strings.TrimSpace(d.Strategy))
	}
	t := tallyOf(d)
	var r reply
	switch shape {
	case shapeFewShot:
		r = c.fewshot(t)
	case shapeEdit:
		r = c.edits(t)
	default:
		r = c.rewrite(t)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("sim optimizer: marshal reply: %w", err)
	}
	return string(b), nil
}

// drawSeed is the seed of this call's draws: the request's content, and at
// temperature > 0 its temperature, sample and seed too, so that K parallel
// candidates (whose data blocks differ in "candidate") and re-asks differ.
func (m *Model) drawSeed(req *llm.Request) int64 {
	parts := []string{req.System, req.Prompt}
	if temperature(req) > 0 {
		parts = append(parts, strconv.FormatFloat(temperature(req), 'g', -1, 64), strconv.Itoa(req.Sample))
		if req.Seed != nil {
			parts = append(parts, strconv.FormatInt(*req.Seed, 10))
		}
	}
	return int64(hashOf(m.seed, parts...))
}

// asksForPrompts reports whether the meta-prompt asks for better prompts or
// demonstrations at all.
func asksForPrompts(meta string) bool {
	s := strings.ToLower(meta)
	if !strings.Contains(s, "prompt") && !strings.Contains(s, "demonstration") {
		return false
	}
	for _, v := range []string{"improve", "rewrite", "revise", "edit", "optimi", "better", "fix", "choos", "pick"} {
		if strings.Contains(s, v) {
			return true
		}
	}
	return false
}

// call is one request being answered.
type call struct {
	m    *Model
	d    data
	req  *llm.Request
	draw int64
}

// chance and pick are this call's draws, named by parts.
func (c call) chance(p float64, parts ...string) bool {
	return p > 0 && unit(hashOf(c.draw, parts...)) < p
}

func (c call) pick(n int, parts ...string) int {
	if n <= 1 {
		return 0
	}
	return int(hashOf(c.draw, parts...) % uint64(n))
}

// offTask answers a meta-prompt that does not ask for prompts: what it asks
// for, as prose, or inside the schema's fields when one is enforced.
func (c call) offTask(meta, shape string) (string, error) {
	text := prose(meta, c.pick(len(haikus), "haiku"))
	why := "I answered the request: " + firstLine(strings.TrimSpace(meta))
	var r reply
	switch shape {
	case "":
		return text, nil
	case shapeEdit:
		r = reply{Edits: []edit{{Op: "insert", Target: "output_prompt", Quote: "", Text: "\n" + text}}, Reasoning: why}
	case shapeFewShot:
		r = reply{Demos: strings.Fields(text)[:1], Reasoning: why}
	default:
		r = reply{SystemPrompt: &text, OutputPrompt: &text, Reasoning: why}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("sim optimizer: marshal reply: %w", err)
	}
	return string(b), nil
}

// haikus are what the optimizer writes when asked for a poem.
var haikus = []string{
	"Soft paws on the sill\nthe afternoon sun is warm\na tail curls in sleep",
	"Whiskers in moonlight\nthe quiet hunt through tall grass\na moth flutters free",
	"A cat on the mat\ndreaming of the open sea\nthe kettle whistles",
}

// prose is an off-task answer to meta: a haiku when one is asked, otherwise
// a few sentences on what the request seems to be about.
func prose(meta string, k int) string {
	if strings.Contains(strings.ToLower(meta), "haiku") || strings.Contains(strings.ToLower(meta), "poem") {
		return haikus[k]
	}
	return "Here are a few thoughts on your request. " + clip(firstLine(strings.TrimSpace(meta)), 80) +
		" is an interesting topic, and there is a lot one could say about it."
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// temperature is the request's temperature in [0, 2].
func temperature(req *llm.Request) float64 {
	if req.Temperature == nil || math.IsNaN(*req.Temperature) {
		return 0
	}
	return math.Max(0, math.Min(2, *req.Temperature))
}

// hashOf is FNV-1a 64 of the seed and the length-prefixed parts, finalized
// with splitmix64 (the same construction as the primary's, written again
// here: the two models share no code).
func hashOf(seed int64, parts ...string) uint64 {
	h := fnv.New64a()
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], uint64(seed))
	h.Write(buf[:])
	for _, p := range parts {
		binary.LittleEndian.PutUint64(buf[:], uint64(len(p)))
		h.Write(buf[:])
		h.Write([]byte(p))
	}
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }
