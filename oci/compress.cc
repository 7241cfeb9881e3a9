#include "flavourgraph/oci/compress.h"

#include <fmt/format.h>
#include <libdeflate.h>
#include <zstd.h>

#include <stdexcept>

#include "flavourgraph/oci/types.h"

namespace flavourgraph::oci {

std::string CompressionSpec::media_type() const {
  return std::string(format == Compression::zstd ? media::kLayerZstd : media::kLayerGzip);
}

std::string CompressionSpec::str() const {
  return fmt::format("{}-{}", format == Compression::zstd ? "zstd" : "gzip", level);
}

namespace {

class GzipCompressor final : public ChunkCompressor {
 public:
  explicit GzipCompressor(int level) : c_(libdeflate_alloc_compressor(level)) {
    if (!c_) throw std::runtime_error("libdeflate: cannot create a compressor");
  }
  ~GzipCompressor() override { libdeflate_free_compressor(c_); }
  size_t bound(size_t n) const override { return libdeflate_gzip_compress_bound(c_, n); }
  size_t compress(const char* in, size_t n, char* out, size_t cap) override {
    size_t r = libdeflate_gzip_compress(c_, in, n, out, cap);
    if (r == 0) throw std::runtime_error("libdeflate: output buffer too small");
    return r;
  }

 private:
  libdeflate_compressor* c_;
};

class ZstdCompressor final : public ChunkCompressor {
 public:
  explicit ZstdCompressor(int level) : c_(ZSTD_createCCtx()), level_(level) {
    if (!c_) throw std::runtime_error("zstd: cannot create a context");
    ZSTD_CCtx_setParameter(c_, ZSTD_c_compressionLevel, level_);
    ZSTD_CCtx_setParameter(c_, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(c_, ZSTD_c_contentSizeFlag, 1);
  }
  ~ZstdCompressor() override { ZSTD_freeCCtx(c_); }
  size_t bound(size_t n) const override { return ZSTD_compressBound(n); }
  size_t compress(const char* in, size_t n, char* out, size_t cap) override {
    size_t r = ZSTD_compress2(c_, out, cap, in, n);
    if (ZSTD_isError(r)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(r));
    return r;
  }

 private:
  ZSTD_CCtx* c_;
  int level_;
};

}  // namespace

std::unique_ptr<ChunkCompressor> make_compressor(const CompressionSpec& spec) {
  if (spec.format == Compression::zstd) return std::make_unique<ZstdCompressor>(spec.level);
  return std::make_unique<GzipCompressor>(spec.level);
}

std::unique_ptr<ChunkCompressor> CompressorPool::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!free_.empty()) {
      auto c = std::move(free_.back());
      free_.pop_back();
      return c;
    }
  }
  return make_compressor(spec_);
}

void CompressorPool::release(std::unique_ptr<ChunkCompressor> c) {
  std::lock_guard lock(mutex_);
  free_.push_back(std::move(c));
}

}  // namespace flavourgraph::oci
