package container

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
)

// validName reports whether name follows docker's rule,
// [a-zA-Z0-9][a-zA-Z0-9_.-]*, so names typed for docker work here and no
// name can be mistaken for a path or a flag.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// validID reports whether id is a full ID: 64 lowercase hex digits. Only
// such IDs are used as directory names, which keeps refs like "../x" or
// ".tmp-1" from ever reaching the filesystem.
func validID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func newID() string {
	var b [32]byte
	rand.Read(b[:]) // never returns an error; it crashes the program instead
	return hex.EncodeToString(b[:])
}

// randomName returns a docker-style "adjective_surname". After a few
// collisions, try > 0, it appends a digit as docker does, so a store full of
// generated names still finds a free one.
func randomName(try int) string {
	name := adjectives[mrand.IntN(len(adjectives))] + "_" + surnames[mrand.IntN(len(surnames))]
	if try > 0 {
		name += fmt.Sprint(mrand.IntN(10 * try))
	}
	return name
}

var adjectives = [...]string{
	"admiring", "affectionate", "agitated", "amazing", "angry", "awesome",
	"blissful", "bold", "brave", "charming", "clever", "compassionate",
	"competent", "confident", "cool", "dazzling", "determined", "distracted",
	"dreamy", "eager", "ecstatic", "elastic", "elated", "elegant", "epic",
	"fervent", "festive", "focused", "friendly", "frosty", "gallant",
	"gifted", "goofy", "gracious", "happy", "hardcore", "heuristic",
	"hopeful", "hungry", "infallible", "inspiring", "intelligent", "jolly",
	"jovial", "keen", "kind", "laughing", "loving", "lucid", "magical",
	"modest", "musing", "mystifying", "naughty", "nervous", "nice",
	"nifty", "nostalgic", "objective", "optimistic", "peaceful", "pedantic",
	"pensive", "practical", "priceless", "quirky", "quizzical", "relaxed",
	"reverent", "romantic", "sad", "serene", "sharp", "silly", "sleepy",
	"stoic", "strange", "stupefied", "suspicious", "sweet", "tender",
	"thirsty", "trusting", "upbeat", "vibrant", "vigilant", "vigorous",
	"wizardly", "wonderful", "xenodochial", "youthful", "zealous", "zen",
}

// No "boring_wozniak": docker leaves it out, and so do we, by having no
// "boring" at all.
var surnames = [...]string{
	"agnesi", "albattani", "allen", "archimedes", "babbage", "bardeen",
	"bartik", "bell", "benz", "bhabha", "blackwell", "bohr", "booth",
	"borg", "bose", "brahmagupta", "brattain", "cannon", "carson", "cerf",
	"chandrasekhar", "chaum", "clarke", "colden", "cori", "curie",
	"darwin", "davinci", "dijkstra", "dubinsky", "easley", "einstein",
	"elion", "engelbart", "euclid", "euler", "faraday", "fermat", "fermi",
	"feynman", "franklin", "gagarin", "galileo", "gauss", "goldberg",
	"goldwasser", "goodall", "hamilton", "hawking", "heisenberg", "hertz",
	"hodgkin", "hofstadter", "hopper", "hypatia", "jackson", "jennings",
	"johnson", "kalam", "keller", "kepler", "khorana", "kilby", "knuth",
	"kowalevski", "lamarr", "lamport", "leakey", "lovelace", "lumiere",
	"mayer", "mccarthy", "mcclintock", "meitner", "mendel", "minsky",
	"mirzakhani", "morse", "napier", "newton", "nobel", "noether", "pare",
	"pascal", "pasteur", "payne", "perlman", "pike", "poincare", "ptolemy",
	"raman", "ramanujan", "ritchie", "rosalind", "shannon", "shockley",
	"sinoussi", "stonebraker", "swanson", "tesla", "thompson", "torvalds",
	"turing", "varahamihira", "villani", "wescoff", "wiles", "williams",
	"wilson", "wozniak", "wright", "yalow", "yonath",
}

// CheckName tells whether name may name a container, so the CLI can refuse
// a bad --name before it creates anything.
func CheckName(name string) error {
	if !validName(name) {
		return fmt.Errorf("%w %q: use letters, digits and _.- (not first)", ErrInvalidName, name)
	}
	return nil
}
