// Faults and hostile input at the OCI layer: trees of any depth and paths of any length,
// files changing while a layer reads them, a store whose creation was cut short, registries
// that send too much, too little, 503 forever, or redirect.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <functional>

#include "fake_http.h"
#include "flavourgraph/fs_util.h"
#include "flavourgraph/oci/layer_writer.h"
#include "flavourgraph/oci/layout.h"
#include "flavourgraph/oci/registry.h"
#include "flavourgraph/oci/tar_writer.h"
#include "flavourgraph/oci/tree.h"
#include "test_util.h"

using namespace flavourgraph;
using fgtest::quote;
using fgtest::run;
namespace fs = std::filesystem;

namespace {

/// Descriptors open in this process now.
size_t open_fds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

/// Lowers the soft limit on open descriptors for its lifetime.
struct FdLimit {
  rlimit saved{};
  explicit FdLimit(rlim_t n) {
    ::getrlimit(RLIMIT_NOFILE, &saved);
    rlimit low = saved;
    low.rlim_cur = n;
    ::setrlimit(RLIMIT_NOFILE, &low);
  }
  ~FdLimit() { ::setrlimit(RLIMIT_NOFILE, &saved); }
};

/// Makes `depth` nested directories "d" under `root` (by descriptor: the path is too long for
/// the kernel's path calls), a file "f<i>" every 1,000 levels and "bottom.txt" at the bottom.
void make_deep_tree(const fs::path& root, int depth) {
  fs::create_directories(root);
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(fd >= 0);
  auto put = [](int dir, const std::string& name, const std::string& content) {
    int f = ::openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(f >= 0);
    REQUIRE(::write(f, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
    ::close(f);
  };
  for (int i = 0; i < depth; ++i) {
    if (i % 1000 == 0) put(fd, "f" + std::to_string(i), "level " + std::to_string(i) + "\n");
    REQUIRE(::mkdirat(fd, "d", 0755) == 0);
    int next = ::openat(fd, "d", O_RDONLY | O_DIRECTORY);
    REQUIRE(next >= 0);
    ::close(fd);
    fd = next;
  }
  put(fd, "bottom.txt", "the bottom\n");
  ::close(fd);
}

/// `rm -rf`, which (unlike std::filesystem::remove_all) removes paths of any length.
void remove_tree(const fs::path& p) { run("rm -rf " + quote(p.string())); }

std::string deep_path(int levels, const std::string& leaf) {
  std::string p;
  for (int i = 0; i < levels; ++i) p += "d/";
  return p + leaf;
}

oci::LayerBlob layer_of(const fs::path& src, oci::Layout& store) {
  oci::TreeListing listing = oci::walk_tree(src, {}, nullptr);
  oci::TarOptions opt;
  CancelSource cancel;
  oci::CompressionSpec gzip;
  return oci::write_layer(src, listing, opt, gzip, store, cancel);
}

}  // namespace

TEST_CASE("a tree 10,000 directories deep: exact listing, hash and layer, with few descriptors open") {
  fgtest::TempDir tmp;
  fs::path src = tmp / "src";
  constexpr int kDepth = 10000;
  make_deep_tree(src, kDepth);
  auto store = oci::Layout::open(tmp / "store", true);
  oci::TreeListing listing;
  std::string hash;
  oci::LayerBlob blob;
  {
    // The walks may open a few dozen descriptors, never one per level.
    FdLimit limit(open_fds() + 96);
    listing = oci::walk_tree(src, {}, nullptr);
    hash = oci::tree_hash(src, {}, nullptr);
    blob = layer_of(src, *store);
  }
  CHECK(listing.entries.size() == 1 + kDepth + 10 + 1);  // root, the dirs, f0..f9000, bottom.txt
  bool bottom_listed = std::any_of(listing.entries.begin(), listing.entries.end(),
                                   [&](const oci::TreeEntry& e) { return e.path == deep_path(kDepth, "bottom.txt"); });
  CHECK(bottom_listed);
  CHECK(hash == oci::tree_hash(listing));
  // GNU tar reads every entry of the layer, and the deepest file's content.
  fs::path blob_file = store->blob_path(blob.blob.digest);
  auto count = run("gzip -dc " + quote(blob_file.string()) + " | tar -tf - | wc -l");
  CHECK(std::stoi(count.out) == kDepth + 10 + 1);
  auto bottom = run("gzip -dc " + quote(blob_file.string()) + " | tar -xOf - " + quote(deep_path(kDepth, "bottom.txt")));
  CHECK(bottom.out == "the bottom\n");
  auto mid = run("gzip -dc " + quote(blob_file.string()) + " | tar -xOf - " + quote(deep_path(5000, "f5000")));
  CHECK(mid.out == "level 5000\n");
  remove_tree(src);
}

TEST_CASE("a file whose path is longer than 4,096 bytes is read into the layer") {
  fgtest::TempDir tmp;
  fs::path src = tmp / "src";
  std::string rel;
  for (int i = 0; i < 20; ++i) rel += std::string(250, static_cast<char>('a' + i)) + "/";
  rel += "deep.txt";
  REQUIRE(rel.size() > 4096);
  // Made step by step: no single path call may be that long.
  fs::create_directories(src);
  int fd = ::open(src.c_str(), O_RDONLY | O_DIRECTORY);
  for (int i = 0; i < 20; ++i) {
    std::string name(250, static_cast<char>('a' + i));
    REQUIRE(::mkdirat(fd, name.c_str(), 0755) == 0);
    int next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY);
    ::close(fd);
    fd = next;
  }
  int f = ::openat(fd, "deep.txt", O_WRONLY | O_CREAT, 0644);
  REQUIRE(::write(f, "far down\n", 9) == 9);
  ::close(f);
  ::close(fd);
  auto store = oci::Layout::open(tmp / "store", true);
  oci::LayerBlob blob = layer_of(src, *store);
  auto out = run("gzip -dc " + quote(store->blob_path(blob.blob.digest).string()) + " | tar -xOf - " + quote(rel));
  CHECK(out.out == "far down\n");
  remove_tree(src);
}

namespace {

/// Reads a tar stream of `src` in small pieces, calling `meddle` once the first bytes of
/// `victim`'s content have been read; returns the error the stream threw ("" when none).
std::string read_while_meddling(const fs::path& src, const std::function<void()>& meddle) {
  oci::TreeListing listing = oci::walk_tree(src, {}, nullptr);
  oci::TarStream tar(src, listing, {});
  char buf[700];
  bool meddled = false;
  uint64_t total = 0;
  try {
    while (size_t n = tar.read(buf, sizeof buf)) {
      total += n;
      // Past the root's and the file's headers (3 x 512 bytes), inside the content.
      if (!meddled && total > 3 * 512 + 100) {
        meddle();
        meddled = true;
      }
    }
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a file appended to while the layer reads it fails the layer, naming the file") {
  fgtest::TempDir tmp;
  fs::path src = tmp / "src";
  fgtest::write_file(src / "log.txt", std::string(5000, 'a'));
  std::string err = read_while_meddling(src, [&] {
    std::ofstream out(src / "log.txt", std::ios::app);
    out << std::string(3000, 'b');
  });
  CHECK(err.find((src / "log.txt").string()) != std::string::npos);
  CHECK(err.find("changed while it was read") != std::string::npos);
}

TEST_CASE("a file rewritten in place while the layer reads it fails the layer, naming the file") {
  fgtest::TempDir tmp;
  fs::path src = tmp / "src";
  fgtest::write_file(src / "data.bin", std::string(5000, 'o'));
  // An old mtime, so that the rewrite changes it even within one tick of the clock.
  timespec old[2] = {{946684800, 0}, {946684800, 0}};
  REQUIRE(::utimensat(AT_FDCWD, (src / "data.bin").c_str(), old, 0) == 0);
  std::string err = read_while_meddling(src, [&] {
    int fd = ::open((src / "data.bin").c_str(), O_WRONLY);
    std::string fresh(5000, 'n');  // same size, new content: old head, new tail if not caught
    REQUIRE(::pwrite(fd, fresh.data(), fresh.size(), 0) == 5000);
    ::close(fd);
  });
  CHECK(err.find((src / "data.bin").string()) != std::string::npos);
  CHECK(err.find("changed while it was read") != std::string::npos);
}

TEST_CASE("a store whose creation was cut short (a full disk) is completed, not refused") {
  fgtest::TempDir tmp;
  // What a run that hit ENOSPC after creating the directories left behind.
  fs::create_directories(tmp / "store/blobs/sha256");
  fs::create_directories(tmp / "store/.flavourgraph/tmp");
  fgtest::write_file(tmp / "store/.index.json.tmp-0123456789ab", "{\"schemaVersi");
  std::unique_ptr<oci::Layout> store;
  REQUIRE_NOTHROW(store = oci::Layout::open(tmp / "store", true));
  store->lock();
  auto d = store->put_blob("{}", oci::media::kConfig);
  CHECK(store->set_ref("x:1", d));
  CHECK(fs::exists(tmp / "store/oci-layout"));
  CHECK_FALSE(fs::exists(tmp / "store/.index.json.tmp-0123456789ab"));
  if (fgtest::have_tool("skopeo")) {
    // A manifest-less ref would not inspect; the layout itself must be readable.
    CHECK(run("umoci ls --layout " + quote((tmp / "store").string())).status == 0);
  }
  // An `oci:` push target goes through the same code, and a directory of someone else's files
  // is still refused.
  fgtest::write_file(tmp / "theirs/notes.txt", "mine\n");
  CHECK_THROWS_WITH_AS(oci::Layout::open(tmp / "theirs", true), doctest::Contains("not empty"), oci::StoreError);
}

namespace {

oci::RegistryOptions fake_options(const std::string& host) {
  oci::RegistryOptions o;
  o.host = host;
  o.plain_http = true;
  o.retry.attempts = 5;
  o.retry.base = std::chrono::milliseconds(1);
  o.retry.max_delay = std::chrono::milliseconds(2);
  return o;
}

oci::Descriptor blob_descriptor(const std::string& content) {
  return {"application/octet-stream", oci::Digest::sha256_of(content), static_cast<int64_t>(content.size()), {},
          std::nullopt, {}};
}

size_t files_in(const fs::path& dir) {
  size_t n = 0;
  std::error_code ec;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir, ec)) ++n;
  return n;
}

}  // namespace

TEST_CASE("a registry sending more than the descriptor's size: reading stops there, once, no retry") {
  std::string content(1000, 'c');
  fgtest::FakeHttpServer srv([](const fgtest::HttpRequest&) {
    fgtest::HttpReply r;
    r.filler = 64u << 20;  // 64 MiB for a 1,000-byte blob
    return r;
  });
  fgtest::TempDir tmp;
  auto store = oci::Layout::open(tmp / "store", true);
  CancelSource cancel;
  oci::RegistryClient client(fake_options(srv.host()), cancel);
  auto d = blob_descriptor(content);
  CHECK_THROWS_WITH_AS(client.fetch_blob("r", d, *store), doctest::Contains("more than the 1000 bytes"),
                       oci::RegistryError);
  CHECK(srv.requests().size() == 1);
  CHECK_FALSE(store->has_blob(d.digest));
  CHECK(files_in(store->tmp_dir()) == 0);
  CHECK(client.bytes_received() < (8u << 20));
}

TEST_CASE("a complete blob of the wrong size or content is final: one request, no retry") {
  std::string content(1000, 'c');
  for (std::string body : {std::string(999, 'c'), std::string(1000, 'x')}) {
    fgtest::FakeHttpServer srv([&](const fgtest::HttpRequest&) { return fgtest::HttpReply{200, {}, body}; });
    fgtest::TempDir tmp;
    auto store = oci::Layout::open(tmp / "store", true);
    CancelSource cancel;
    oci::RegistryClient client(fake_options(srv.host()), cancel);
    CHECK_THROWS_AS(client.fetch_blob("r", blob_descriptor(content), *store), oci::RegistryError);
    CHECK(srv.requests().size() == 1);
  }
}

TEST_CASE("no retry starts after the time allowed for retries") {
  fgtest::FakeHttpServer srv([](const fgtest::HttpRequest&) { return fgtest::HttpReply{503, {}, "busy"}; });
  CancelSource cancel;
  oci::RegistryOptions o = fake_options(srv.host());
  o.retry.attempts = 10;
  o.retry.base = std::chrono::milliseconds(800);  // waits of 0.8-1.2 s, then 1.6-2.4 s
  o.retry.max_delay = std::chrono::milliseconds(8000);
  o.retry.total = std::chrono::milliseconds(2000);
  oci::RegistryClient client(o, cancel);
  auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH_AS(client.ping(), doctest::Contains("gave up after 2 attempt"), oci::RegistryError);
  auto reqs = srv.requests();
  CHECK(reqs.size() == 2);
  for (const auto& r : reqs) CHECK(r.arrived - t0 < std::chrono::milliseconds(2000));
}

TEST_CASE("a redirect to plain HTTP is followed to a host listed as insecure, without the credentials") {
  std::string content = "blob held elsewhere\n";
  fgtest::FakeHttpServer storage([&](const fgtest::HttpRequest&) { return fgtest::HttpReply{200, {}, content}; });
  fgtest::FakeHttpServer registry([&](const fgtest::HttpRequest& r) {
    if (r.header("authorization").empty()) return fgtest::HttpReply{401, {{"WWW-Authenticate", "Basic realm=\"r\""}}, ""};
    return fgtest::HttpReply{307, {{"Location", "http://" + storage.host() + "/data/blob?sig=1"}}, ""};
  });
  fgtest::TempDir tmp;
  auto store = oci::Layout::open(tmp / "store", true);
  CancelSource cancel;
  auto d = blob_descriptor(content);
  {
    oci::RegistryOptions o = fake_options(registry.host());
    o.credentials = oci::Credentials{"user", "secret"};
    o.insecure_hosts = {registry.host(), storage.host()};
    oci::RegistryClient client(o, cancel);
    CHECK(client.fetch_blob("r", d, *store) == content.size());
    CHECK(store->has_blob(d.digest, d.size));
    REQUIRE(storage.requests().size() == 1);
    CHECK(storage.requests()[0].target == "/data/blob?sig=1");
    CHECK(storage.requests()[0].header("authorization").empty());
  }
  {
    // Not listed: refused, and nothing sent there.
    oci::RegistryOptions o = fake_options(registry.host());
    o.credentials = oci::Credentials{"user", "secret"};
    o.insecure_hosts = {registry.host()};
    oci::RegistryClient client(o, cancel);
    auto other = blob_descriptor("another blob\n");
    CHECK_THROWS_WITH_AS(client.fetch_blob("r", other, *store), doctest::Contains("refusing plain HTTP"),
                         oci::RegistryError);
    CHECK(storage.requests().size() == 1);
  }
}

