#include "flavourgraph/oci/layer_writer.h"

#include <fmt/format.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>

#include <mutex>
#include <vector>

#include "flavourgraph/oci/compress.h"

namespace flavourgraph::oci {

namespace {

struct Chunk {
  std::vector<char> in;
  std::vector<char> out;
  size_t in_n = 0;
  size_t out_n = 0;
};

/// Reuses chunk buffers: at most `tokens` are ever allocated.
class ChunkPool {
 public:
  Chunk* get() {
    std::lock_guard lock(mutex_);
    if (free_.empty()) {
      all_.push_back(std::make_unique<Chunk>());
      all_.back()->in.resize(kChunkSize);
      return all_.back().get();
    }
    Chunk* c = free_.back();
    free_.pop_back();
    return c;
  }
  void put(Chunk* c) {
    std::lock_guard lock(mutex_);
    free_.push_back(c);
  }

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<Chunk>> all_;
  std::vector<Chunk*> free_;
};

}  // namespace

LayerBlob write_layer(const std::filesystem::path& root, const TreeListing& listing, const TarOptions& tar,
                      const CompressionSpec& compression, Layout& store, const CancelSource& cancel,
                      const std::function<void(uint64_t read)>& on_read) {
  TarStream stream(root, listing, tar);
  Sha256 tar_hash;
  BlobWriter blob(store);
  CompressorPool compressors(compression);
  ChunkPool chunks;
  bool cancelled = false;
  uint64_t read = 0;  // by the serial input stage only
  size_t tokens = 2 * static_cast<size_t>(tbb::this_task_arena::max_concurrency()) + 2;

  // Isolated: while this task waits for its pipeline, its thread runs only pipeline work,
  // never another task of the graph (which would break the pool's width).
  tbb::this_task_arena::isolate([&] {
    tbb::parallel_pipeline(
        tokens,
        tbb::make_filter<void, Chunk*>(tbb::filter_mode::serial_in_order,
                                       [&](tbb::flow_control& fc) -> Chunk* {
                                         if (cancel.requested()) {
                                           cancelled = true;
                                           fc.stop();
                                           return nullptr;
                                         }
                                         Chunk* c = chunks.get();
                                         c->in_n = stream.read(c->in.data(), kChunkSize);
                                         if (c->in_n == 0) {
                                           chunks.put(c);
                                           fc.stop();
                                           return nullptr;
                                         }
                                         tar_hash.update(c->in.data(), c->in_n);
                                         read += c->in_n;
                                         if (on_read) on_read(read);
                                         return c;
                                       }) &
            tbb::make_filter<Chunk*, Chunk*>(tbb::filter_mode::parallel,
                                             [&](Chunk* c) {
                                               auto comp = compressors.acquire();
                                               size_t cap = comp->bound(c->in_n);
                                               if (c->out.size() < cap) c->out.resize(cap);
                                               c->out_n = comp->compress(c->in.data(), c->in_n, c->out.data(), cap);
                                               compressors.release(std::move(comp));
                                               return c;
                                             }) &
            tbb::make_filter<Chunk*, void>(tbb::filter_mode::serial_in_order, [&](Chunk* c) {
              blob.write(c->out.data(), c->out_n);
              chunks.put(c);
            }));
  });
  if (cancelled) throw Cancelled();
  LayerBlob out;
  out.diff_id = Digest{"sha256", tar_hash.finish_hex()};
  out.tar_size = stream.bytes();
  uint64_t size = blob.size();
  Digest d = blob.commit();
  out.blob = Descriptor{compression.media_type(), d, static_cast<int64_t>(size), {}, std::nullopt, {}};
  return out;
}

std::string layer_cache_key(const std::filesystem::path& root, const std::string& tree_hash, const TarOptions& tar,
                            const CompressionSpec& compression, const std::vector<std::string>& include,
                            const std::vector<std::string>& exclude) {
  Sha256 h;
  h.update(fmt::format("flavourgraph-layer-cache-v3\nroot={}\ndest={}\nowner={}:{}\nmtime={}\ncompression={}\nchunk={}\n",
                       root.string(), tar.dest, tar.uid, tar.gid, tar.mtime, compression.str(), kChunkSize));
  for (const auto& p : include) h.update("include=" + p + "\n");
  for (const auto& p : exclude) h.update("exclude=" + p + "\n");
  h.update("tree=" + tree_hash + "\n");
  return h.finish_hex();
}

}  // namespace flavourgraph::oci
