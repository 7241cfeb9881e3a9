// The PyYAML resolver and dump rules. Expected outputs here were produced by PyYAML 6.0 on
// Debian 12; tests/golden/pyyaml_golden.py checks many more strings against PyYAML itself.
#include <doctest/doctest.h>

#include "flavourgraph/pyyaml.h"

using namespace flavourgraph::pyyaml;

TEST_CASE("plain scalars resolve as PyYAML's implicit resolvers do") {
  CHECK(resolve_plain("8.1") == PlainType::floating);
  CHECK(resolve_plain("7.4") == PlainType::floating);
  CHECK(resolve_plain("1e3") == PlainType::str);  // YAML 1.1 needs a sign in the exponent
  CHECK(resolve_plain("1.0e+3") == PlainType::floating);
  CHECK(resolve_plain(".5") == PlainType::floating);
  CHECK(resolve_plain("-.inf") == PlainType::floating);
  CHECK(resolve_plain(".NaN") == PlainType::floating);
  CHECK(resolve_plain("190:20:30.15") == PlainType::floating);
  CHECK(resolve_plain("81") == PlainType::integer);
  CHECK(resolve_plain("0x1F") == PlainType::integer);
  CHECK(resolve_plain("0b101") == PlainType::integer);
  CHECK(resolve_plain("017") == PlainType::integer);
  CHECK(resolve_plain("1_000") == PlainType::integer);
  CHECK(resolve_plain("190:20:30") == PlainType::integer);
  CHECK(resolve_plain("yes") == PlainType::boolean);
  CHECK(resolve_plain("Off") == PlainType::boolean);
  CHECK(resolve_plain("y") == PlainType::str);  // PyYAML does not treat y/n as bool
  CHECK(resolve_plain("") == PlainType::null);
  CHECK(resolve_plain("~") == PlainType::null);
  CHECK(resolve_plain("Null") == PlainType::null);
  CHECK(resolve_plain("2024-10-29") == PlainType::timestamp);
  CHECK(resolve_plain("2001-12-14t21:59:43.10-05:00") == PlainType::timestamp);
  CHECK(resolve_plain("2024-10-29-190315") == PlainType::str);
  CHECK(resolve_plain("2024-10-29-190315-publish-81") == PlainType::str);
  CHECK(resolve_plain("<<") == PlainType::merge);
  CHECK(resolve_plain("=") == PlainType::value);
  CHECK(resolve_plain("publish") == PlainType::str);
  CHECK(resolve_plain("yes\n") == PlainType::boolean);  // Python's $ before a final newline
  CHECK(plain_bool_value("True"));
  CHECK_FALSE(plain_bool_value("off"));
}

TEST_CASE("dump writes production's values file byte for byte") {
  Tree t;
  t.child("docker").set("registry", "docker-registry.discovery.wmnet");
  t.child("main_app").set("image", "restricted/mediawiki-multiversion:2024-10-29-190315-publish-81");
  t.child("mw").child("httpd").set("image_tag",
                                   "restricted/mediawiki-webserver:2024-10-29-190315-webserver");
  t.child("php").set("version", "8.1");
  CHECK(dump(t) ==
        "docker:\n"
        "  registry: docker-registry.discovery.wmnet\n"
        "main_app:\n"
        "  image: restricted/mediawiki-multiversion:2024-10-29-190315-publish-81\n"
        "mw:\n"
        "  httpd:\n"
        "    image_tag: restricted/mediawiki-webserver:2024-10-29-190315-webserver\n"
        "php:\n"
        "  version: '8.1'\n");
}

TEST_CASE("dump quotes and folds strings as yaml.dump does") {
  Tree t;
  t.set("e", "");
  t.child("j").set("x", std::string(90, 'y') + " z " + std::string(10, 'w'));
  std::string as;
  for (int i = 0; i < 50; ++i) as += "a ";
  t.set("k", as);
  t.set("m", "a\nb");
  t.set("n", "\xc3\xa9");
  t.set("q", "1.0");
  t.set("yes", "on");
  // Output of: yaml.dump({'k': 'a '*50, 'j': {'x': 'y'*90 + ' z ' + 'w'*10}, 'q': '1.0', 'e': '',
  //                       'n': 'é', 'm': 'a\nb', 'yes': 'on'})
  CHECK(dump(t) ==
        "e: ''\n"
        "j:\n"
        "  x: " + std::string(90, 'y') + "\n"
        "    z wwwwwwwwww\n"
        "k: 'a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a\n"
        "  a a a a a a a a a a a '\n"
        "m: 'a\n\n  b'\n"
        "n: \"\\xE9\"\n"
        "q: '1.0'\n"
        "'yes': 'on'\n");
}

TEST_CASE("dump of special strings") {
  auto one = [](const std::string& v) {
    Tree t;
    t.set("k", v);
    return dump(t);
  };
  CHECK(one("oci:../x") == "k: oci:../x\n");
  CHECK(one("- a") == "k: '- a'\n");
  CHECK(one("a: b") == "k: 'a: b'\n");
  CHECK(one("a #b") == "k: 'a #b'\n");
  CHECK(one("a#b") == "k: a#b\n");
  CHECK(one("it's") == "k: it's\n");
  CHECK(one("'q'") == "k: '''q'''\n");
  CHECK(one(" lead") == "k: ' lead'\n");
  CHECK(one("tab\there") == "k: \"tab\\there\"\n");
  CHECK(one("null") == "k: 'null'\n");
  CHECK(one("*") == "k: '*'\n");
  CHECK(one("---x") == "k: '---x'\n");
  Tree empty;
  CHECK(dump(empty) == "{}\n");
}

TEST_CASE("numbers, booleans and null from JSON are spelled as yaml.dump spells Python's values") {
  // Expected spellings printed by PyYAML 6.0 for json.loads(text).
  const std::pair<const char*, const char*> cases[] = {
      {"8.1", "8.1"},          {"8", "8"},          {"1e16", "1.0e+16"},        {"1.5e-7", "1.5e-07"},
      {"1E+20", "1.0e+20"},    {"8.0", "8.0"},      {"-0.0", "-0.0"},           {"1e400", ".inf"},
      {"100.0", "100.0"},      {"0.0001", "0.0001"}, {"0.00001", "1.0e-05"},     {"true", "true"},
      {"null", "null"},        {"123456789012345.6", "123456789012345.6"}, {"1234567890123456.7", "1234567890123456.8"},
      {"2.5e-300", "2.5e-300"}};
  for (auto [json, yaml] : cases) {
    auto p = plain_of_json(json);
    REQUIRE(p);
    CHECK_MESSAGE(p->text == yaml, json);
  }
  CHECK_FALSE(plain_of_json("\"8.1\""));
  Tree t;
  t.child("php").set("version", *plain_of_json("8.1"));
  CHECK(dump(t) == "php:\n  version: 8.1\n");
}
