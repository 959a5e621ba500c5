// lazypath._core: the one place the C++ core meets Python.
//
// Each public header has its binding file (binding.h lists them); this file
// only puts them together. Every function releases the GIL around core work.
// A non-OK Status becomes an exception from lazypath.errors chosen by its
// code. Results are Record classes (binding.h): read-only attributes, item
// access and to_dict() by JSON name, bound once here and used as they are by
// the API, the CLI and the Ray plugin.
#include "bindings/binding.h"

NB_MODULE(_core, m) {
  using namespace lazypath::binding;
  m.doc() = "lazypath's C++ core (private: use the lazypath package)";
  RegisterStatus(m);
  RegisterDigest(m);
  RegisterSize(m);
  RegisterTree(m);
  RegisterScan(m);
  RegisterCache(m);
  RegisterPush(m);
  RegisterActivate(m);
  RegisterLazy(m);
  RegisterProfile(m);
  RegisterInspect(m);
  RegisterPrune(m);
}
