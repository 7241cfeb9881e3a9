#pragma once
/// Content digests (`sha256:<64 hex>`) and streaming SHA-256 through OpenSSL's EVP interface,
/// which uses the CPU's SHA extensions where present.

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace flavourgraph::oci {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256(Sha256&& o) noexcept : ctx_(o.ctx_) { o.ctx_ = nullptr; }

  void update(const void* data, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  /// Lowercase hex of the digest; the hasher must not be used afterwards.
  std::string finish_hex();

 private:
  EVP_MD_CTX* ctx_;
};

std::string sha256_hex(std::string_view data);

/// An OCI content digest. Only sha256 is produced and accepted (the program verifies every
/// blob it reads, and sha256 is what registries and layouts use).
struct Digest {
  std::string algorithm = "sha256";
  std::string hex;

  static std::optional<Digest> parse(std::string_view s);
  static Digest sha256_of(std::string_view data) { return {"sha256", sha256_hex(data)}; }
  [[nodiscard]] std::string str() const { return algorithm + ":" + hex; }
  [[nodiscard]] bool empty() const { return hex.empty(); }
  auto operator<=>(const Digest&) const = default;
};

}  // namespace flavourgraph::oci
