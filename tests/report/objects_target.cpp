// Leaks objects whose bytes say what they are, for test_fields.py: polymorphic C++ objects
// (a vtable in their first word: the report names their type with no stack) and commands
// with a short operation name at a fixed offset ("GET", "SET": shorter than the strings list
// keeps). Takes one snapshot through leaktag_snapshot() and exits.
#include <cstdio>
#include <cstring>

#include "leaktag.h"

#define NOINLINE __attribute__((noinline))

namespace shop {
struct Session {
    virtual ~Session() = default;
    virtual long id() const { return n; }
    long n = 0;
    char user[16] = {};
};
} // namespace shop

struct Command {
    char op[8];
    char key[24];
};

static void *volatile sink;

NOINLINE static shop::Session *make_session(int i)
{
    auto *s = new shop::Session;
    s->n = i;
    std::snprintf(s->user, sizeof(s->user), "user%d", i);
    return s;
}

NOINLINE static Command *make_command(int i)
{
    auto *c = new Command();
    std::strcpy(c->op, i % 4 ? "GET" : "SET");
    std::snprintf(c->key, sizeof(c->key), "user:session:%d", 100000 + i);
    return c;
}

int main()
{
    for (int i = 0; i < 20; i++) {
        sink = make_session(i);
        sink = make_command(i);
    }
    sink = nullptr;
    return leaktag_snapshot && leaktag_snapshot("objects") == 0 ? 0 : 1;
}
