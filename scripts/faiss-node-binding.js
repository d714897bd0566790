// Compiles faiss-node against a given faiss static library, the one way ddb-faiss builds it:
// `npm ci` here (scripts/postinstall.js) and the Lambda image (infra/lambda-image/Dockerfile).
// It replaces faiss-node's binding.gyp: node-addon-api 8 with C++ exceptions (faiss errors
// become JS exceptions instead of aborting the process; faiss-node's own node-addon-api 6
// aborts on some of them), -O3 and OpenMP, the AVX2 flags when the library is the AVX2 build.
// And changes to faiss-node's source (SOURCE_PATCH): `add` and `train` also take a
// Float32Array, read in place, where faiss-node copies a number[] value by value through N-API
// (about 0.35 µs a value: 2 minutes to add a million vectors of 356 dimensions); and
// `searchEach(indexes, query, ks)` searches several indexes for one query at once, one OpenMP
// thread an index, where faiss searches one query on one thread (an index's segments are
// searched side by side on every core); `readEach(paths)`, index files mapped side by side the
// same way, each file's CRC-32 (zlib's, the one Node exports) computed over the mapped pages
// before faiss parses it; `writeMappable(index)`, fast-scan inverted lists written contiguous
// (ids and codes on 64-byte boundaries), which `readEach` leaves in the mapped pages where faiss
// would allocate and fill each list on its own (a 10M index's gigabyte of codes, 4 KB pages each
// faulted into fresh memory); `setNprobe` on an IVF index (faiss-node sets none); and
// `adviseRows` and `readRows`, rows of a file announced to the kernel and read (not faiss's, but
// this is the native build search has), so that a re-rank's scattered reads go side by side.
//
//   node scripts/faiss-node-binding.js /path/to/libfaiss_avx2.a   # from the folder holding node_modules
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Builds node_modules/faiss-node (resolved from `root`) against `faissLib`, unless the same
 * build is already there. Returns whether it compiled; throws with the compiler's output when
 * the build fails.
 * @param {{ root: string, faissLib: string, log?: (message: string) => void }} options
 */
export function buildFaissNode({ root, faissLib, log = () => {} }) {
  const require = createRequire(path.join(root, 'package.json'));
  const faissDir = path.dirname(require.resolve('faiss-node/package.json'));
  const addonApiDir = path.dirname(require.resolve('node-addon-api/package.json'));
  const addonApiVersion = JSON.parse(readFileSync(path.join(addonApiDir, 'package.json'), 'utf8')).version;
  const avx2 = path.basename(faissLib).includes('avx2');
  const simdFlags = avx2 ? ['-mavx2', '-mfma', '-mf16c', '-mpopcnt'] : [];

  const addon = path.join(faissDir, 'build/Release/faiss-node.node');
  const stampFile = path.join(faissDir, 'build/ddb-faiss-build.json');
  const stamp = JSON.stringify({
    node: process.versions.modules,
    addonApiVersion,
    faissLib,
    patch: SOURCE_PATCH.version,
  });
  if (existsSync(addon) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return false;

  // faiss 1.7.3 spells the label type faiss::Index::idx_t; faiss-node's source uses
  // faiss::idx_t (1.7.4+). A header forced in with -include adds the alias.
  const compatHeader = path.join(faissDir, 'faiss-idx-compat.h');
  writeFileSync(
    compatHeader,
    [
      '#pragma once',
      '#include <faiss/Index.h>',
      '#include <faiss/MetricType.h>',
      'namespace faiss { using idx_t = faiss::Index::idx_t; }',
      '',
    ].join('\n'),
  );
  // The library's own headers, which scripts/build-faiss.sh keeps beside it (include/faiss/),
  // else the system's (Debian's libfaiss-dev: the same 1.7.3 source).
  const libHeaders = path.join(path.dirname(faissLib), 'include');
  const includeDirs = [addonApiDir, ...(existsSync(path.join(libHeaders, 'faiss/Index.h')) ? [libHeaders] : [])];
  const bindingGyp = {
    targets: [
      {
        target_name: 'faiss-node',
        sources: ['src/faiss-ddb.cc'],
        include_dirs: includeDirs,
        defines: ['NAPI_VERSION=8', 'NODE_ADDON_API_CPP_EXCEPTIONS', 'NODE_ADDON_API_CPP_EXCEPTIONS_ALL'],
        'cflags!': ['-fno-exceptions'],
        'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17'],
        cflags_cc: ['-std=c++17', '-fexceptions', '-frtti', '-O3', '-fopenmp', ...simdFlags, '-include', compatHeader],
        libraries: [faissLib, '-lopenblas', '-llapack', '-lblas', '-fopenmp'],
      },
    ],
  };
  writeFileSync(path.join(faissDir, 'binding.gyp'), JSON.stringify(bindingGyp, null, 2));
  writeFileSync(
    path.join(faissDir, 'src/faiss-ddb.cc'),
    withSourcePatch(readFileSync(path.join(faissDir, 'src/faiss.cc'), 'utf8')),
  );

  const nodeGyp = npmNodeGyp();
  const command = nodeGyp ? [process.execPath, nodeGyp] : ['npx', '--no-install', 'node-gyp'];
  // The headers of the Node that runs this (Node's own tarball ships them in include/node,
  // Debian's nodejs in /usr/include/node); without --nodedir node-gyp would download them.
  // faiss-node is a Node-API addon, so the build also loads on later Node majors.
  const nodedir = [path.resolve(path.dirname(process.execPath), '..'), '/usr']
    .filter((dir) => existsSync(path.join(dir, 'include/node/node_api.h')))
    .slice(0, 1)
    .map((dir) => `--nodedir=${dir}`);
  log(`building faiss-node against ${faissLib} (node-addon-api ${addonApiVersion})`);
  const build = spawnSync(command[0], [...command.slice(1), 'rebuild', ...nodedir, '--jobs=max'], {
    cwd: faissDir,
    encoding: 'utf8',
  });
  // Only a failed build shows the compiler's output: faiss-node's source has warnings.
  if (build.status !== 0) throw new Error(`building faiss-node failed:\n${build.stdout}${build.stderr}`);
  writeFileSync(stampFile, stamp);
  return true;
}

/**
 * The changes to faiss-node's source: Float32Array `add` and `train`, `searchEach`, `readEach`,
 * `writeMappable`, `setNprobe`, `adviseRows`, `readRows`.
 */
const SOURCE_PATCH = {
  version: 12,
  /** A Float32Array argument handed to faiss in place, for `add` (faiss's add) or `train`. */
  float32Branch: (call) => `    if (info.Length() == 1 && info[0].IsTypedArray() &&
        info[0].As<Napi::TypedArray>().TypedArrayType() == napi_float32_array)
    {
      Napi::Float32Array typed = info[0].As<Napi::Float32Array>();
      size_t length = typed.ElementLength();
      if (length % index_->d != 0)
        throw Napi::Error::New(env, "Invalid the given array length.");
      index_->${call}(length / index_->d, typed.Data());
      return env.Undefined();
    }
`,
  /**
   * What every index class gets: its faiss index, `setNprobe` (registered on `Index`, the class
   * IVF indexes are read as), whether a JS value is one of its instances, and adopting an index
   * read outside it.
   */
  indexAccess: `public:
  faiss::Index *ddbIndex() const { return index_.get(); }

  Napi::Value setNprobe(const Napi::CallbackInfo &info)
  {
    Napi::Env env = info.Env();
    faiss::IndexIVF *ivf = dynamic_cast<faiss::IndexIVF *>(index_.get());
    if (!ivf) throw Napi::TypeError::New(env, "setNprobe: not an IVF index.");
    if (info.Length() != 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "setNprobe(nprobe: number)");
    const int64_t nprobe = info[0].As<Napi::Number>().Int64Value();
    if (nprobe < 1 || static_cast<size_t>(nprobe) > ivf->nlist)
      throw Napi::Error::New(env, "setNprobe: " + std::to_string(nprobe) + " is not within 1.." +
                                      std::to_string(ivf->nlist) + ".");
    ivf->nprobe = static_cast<size_t>(nprobe);
    return env.Undefined();
  }
  static bool ddbHolds(const Napi::Object &object) { return object.InstanceOf(constructor->Value()); }

  /** A new JS instance holding a faiss index read elsewhere (it owns it from then on). */
  static Napi::Object ddbAdopt(faiss::Index *index)
  {
    Napi::Object instance = T::constructor->New({});
    Napi::ObjectWrap<T>::Unwrap(instance)->index_ = std::unique_ptr<faiss::Index>(index);
    return instance;
  }

`,
  /**
   * searchEach(indexes, query, ks): each index searched for the one query; readEach(paths): each
   * file mapped, checked and read, with its CRC-32 and size; the indexes or files side by side;
   * writeMappable(index) and the contiguous form of fast-scan inverted lists it writes.
   */
  eachFunctions: `
/**
 * An index file mapped read-only, unmapped when nothing reads from it any more (the reader, and
 * the inverted lists of an index read from it). Segment files never change once written, and a
 * file removed while mapped stays readable, as it does through an open descriptor.
 */
struct DdbMappedFile
{
  const uint8_t *data = nullptr;
  size_t size = 0;

  explicit DdbMappedFile(const std::string &path)
  {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + strerror(errno));
    struct stat status;
    if (fstat(fd, &status) != 0)
    {
      const int error = errno;
      close(fd);
      throw std::runtime_error("cannot stat " + path + ": " + strerror(error));
    }
    size = static_cast<size_t>(status.st_size);
    // MAP_POPULATE: the pages are mapped at once (read ahead in large requests), not one fault
    // at a time as the checksum and then the queries touch them.
    void *mapped = size == 0 ? nullptr : mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    const int error = errno;
    close(fd);
    if (mapped == MAP_FAILED) throw std::runtime_error("cannot map " + path + ": " + strerror(error));
    data = static_cast<const uint8_t *>(mapped);
  }

  ~DdbMappedFile()
  {
    if (data) munmap(const_cast<uint8_t *>(data), size);
  }
  DdbMappedFile(const DdbMappedFile &) = delete;
  DdbMappedFile &operator=(const DdbMappedFile &) = delete;

  /** zlib's CRC-32 of the whole file. */
  uLong crc32Of() const
  {
    uLong crc = crc32(0L, Z_NULL, 0);
    // zlib takes at most 4 GB a call.
    for (size_t done = 0; done < size;)
    {
      const uInt part = static_cast<uInt>(std::min<size_t>(size - done, 1u << 30));
      crc = crc32(crc, data + done, part);
      done += part;
    }
    return crc;
  }
};

/** faiss reads a mapped file through this; contiguous inverted lists are left where they are. */
struct DdbMappedReader : faiss::IOReader
{
  std::shared_ptr<DdbMappedFile> file;
  size_t at = 0;

  DdbMappedReader(std::shared_ptr<DdbMappedFile> mapped, const std::string &path) : file(std::move(mapped))
  {
    name = path;
  }

  size_t operator()(void *ptr, size_t size, size_t nitems) override
  {
    if (size == 0) return nitems;
    const size_t items = std::min(nitems, (file->size - at) / size);
    memcpy(ptr, file->data + at, items * size);
    at += items * size;
    return items;
  }
};

/** Any inverted lists of fast-scan blocks, seen as the one class the contiguous form is written for. */
struct DdbMappableView : faiss::InvertedLists
{
  const faiss::InvertedLists *lists;
  size_t n_per_block;
  size_t block_size;

  DdbMappableView(const faiss::InvertedLists *of, size_t perBlock, size_t blockSize)
      : InvertedLists(of->nlist, of->code_size), lists(of), n_per_block(perBlock), block_size(blockSize) {}

  size_t list_size(size_t list) const override { return lists->list_size(list); }
  const uint8_t *get_codes(size_t list) const override { return lists->get_codes(list); }
  const idx_t *get_ids(size_t list) const override { return lists->get_ids(list); }
  size_t add_entries(size_t, size_t, const idx_t *, const uint8_t *) override { return readOnly(); }
  void update_entries(size_t, size_t, size_t, const idx_t *, const uint8_t *) override { readOnly(); }
  void resize(size_t, size_t) override { readOnly(); }

  static size_t readOnly() { FAISS_THROW_MSG("these inverted lists are read-only"); }
};

/** Fast-scan inverted lists whose ids and codes are a mapped file's own pages. */
struct DdbContiguousLists : faiss::InvertedLists
{
  std::shared_ptr<DdbMappedFile> pages;
  size_t n_per_block;
  size_t block_size;
  std::vector<size_t> sizes;
  std::vector<size_t> idsAt;
  std::vector<size_t> codesAt;

  DdbContiguousLists(std::shared_ptr<DdbMappedFile> mapped, size_t lists, size_t codeSize, size_t perBlock,
                     size_t blockSize)
      : InvertedLists(lists, codeSize), pages(std::move(mapped)), n_per_block(perBlock), block_size(blockSize),
        sizes(lists), idsAt(lists), codesAt(lists) {}

  size_t list_size(size_t list) const override { return sizes[list]; }
  const uint8_t *get_codes(size_t list) const override { return pages->data + codesAt[list]; }
  const idx_t *get_ids(size_t list) const override
  {
    return reinterpret_cast<const idx_t *>(pages->data + idsAt[list]);
  }
  size_t add_entries(size_t, size_t, const idx_t *, const uint8_t *) override { return DdbMappableView::readOnly(); }
  void update_entries(size_t, size_t, size_t, const idx_t *, const uint8_t *) override
  {
    DdbMappableView::readOnly();
  }
  void resize(size_t, size_t) override { DdbMappableView::readOnly(); }
};

/**
 * The contiguous form of fast-scan inverted lists ("ilbm"): faiss's "ilbl" header, every list's
 * size, then each list's ids and its codes, each starting on a 64-byte boundary of the file (the
 * SIMD kernels load codes 32 bytes at a time from aligned addresses, which a page-aligned mapping
 * of these offsets gives). A file read through {@link DdbMappedReader} keeps them in the mapped
 * pages; any other reader copies them list by list into faiss's own BlockInvertedLists.
 */
struct DdbMappableListsIOHook : faiss::InvertedListsIOHook
{
  static constexpr size_t ALIGNMENT = 64;

  DdbMappableListsIOHook() : InvertedListsIOHook("ilbm", typeid(DdbMappableView).name()) {}

  static size_t padding(size_t at) { return (ALIGNMENT - at % ALIGNMENT) % ALIGNMENT; }

  static size_t codeBytes(size_t entries, size_t perBlock, size_t blockSize)
  {
    return (entries + perBlock - 1) / perBlock * blockSize;
  }

  void write(const faiss::InvertedLists *written, faiss::IOWriter *f) const override
  {
    const DdbMappableView *lists = dynamic_cast<const DdbMappableView *>(written);
    faiss::VectorIOWriter *writer = dynamic_cast<faiss::VectorIOWriter *>(f);
    FAISS_THROW_IF_NOT_MSG(lists && writer, "the mappable form is written by writeMappable only");
    const std::vector<uint8_t> zeros(ALIGNMENT, 0);
    auto put = [&](const void *bytes, size_t length) {
      if (length > 0) (*writer)(bytes, 1, length);
    };
    auto align = [&]() { put(zeros.data(), padding(writer->data.size())); };
    const uint32_t fourcc = faiss::fourcc("ilbm");
    put(&fourcc, sizeof fourcc);
    const size_t header[] = {lists->nlist, lists->code_size, lists->n_per_block, lists->block_size};
    put(header, sizeof header);
    std::vector<uint64_t> sizes(lists->nlist);
    for (size_t list = 0; list < lists->nlist; list++) sizes[list] = lists->list_size(list);
    put(sizes.data(), sizes.size() * sizeof(uint64_t));
    const uint64_t pad = padding(writer->data.size() + sizeof(uint64_t));
    put(&pad, sizeof pad);
    align();
    for (size_t list = 0; list < lists->nlist; list++)
    {
      put(lists->get_ids(list), sizes[list] * sizeof(idx_t));
      align();
      put(lists->get_codes(list), codeBytes(sizes[list], lists->n_per_block, lists->block_size));
      align();
    }
  }

  faiss::InvertedLists *read(faiss::IOReader *f, int) const override
  {
    auto get = [&](void *into, size_t length, const char *what) {
      if (length > 0 && (*f)(into, 1, length) != length)
        FAISS_THROW_FMT("ilbm: the file ends within the %s", what);
    };
    size_t header[4];
    get(header, sizeof header, "header");
    const size_t nlist = header[0], codeSize = header[1], perBlock = header[2], blockSize = header[3];
    FAISS_THROW_IF_NOT_MSG(nlist > 0 && nlist < (1u << 24) && perBlock > 0 && blockSize > 0 &&
                               blockSize < (1u << 24),
                           "ilbm: the header is not that of fast-scan lists");
    std::vector<uint64_t> sizes(nlist);
    get(sizes.data(), nlist * sizeof(uint64_t), "list sizes");
    uint64_t pad;
    get(&pad, sizeof pad, "padding");
    FAISS_THROW_IF_NOT_MSG(pad < ALIGNMENT, "ilbm: the padding is not under 64 bytes");
    // Where each list's ids and codes are, from the start of the (aligned) lists.
    std::vector<size_t> idsAt(nlist), codesAt(nlist);
    size_t total = 0;
    const size_t limit = size_t(1) << 46;
    for (size_t list = 0; list < nlist; list++)
    {
      FAISS_THROW_IF_NOT_MSG(sizes[list] < (uint64_t(1) << 40), "ilbm: a list size is out of range");
      idsAt[list] = total;
      total += sizes[list] * sizeof(idx_t);
      total += padding(total);
      codesAt[list] = total;
      total += codeBytes(sizes[list], perBlock, blockSize);
      total += padding(total);
      FAISS_THROW_IF_NOT_MSG(total < limit, "ilbm: the lists are out of range");
    }
    if (DdbMappedReader *mapped = dynamic_cast<DdbMappedReader *>(f))
    {
      const size_t start = mapped->at + pad;
      if (start > mapped->file->size || total > mapped->file->size - start)
        FAISS_THROW_MSG("ilbm: the file ends within the lists");
      FAISS_THROW_IF_NOT_MSG(reinterpret_cast<uintptr_t>(mapped->file->data + start) % ALIGNMENT == 0,
                             "ilbm: the lists are not aligned");
      auto lists = std::make_unique<DdbContiguousLists>(mapped->file, nlist, codeSize, perBlock, blockSize);
      lists->sizes.assign(sizes.begin(), sizes.end());
      for (size_t list = 0; list < nlist; list++)
      {
        lists->idsAt[list] = start + idsAt[list];
        lists->codesAt[list] = start + codesAt[list];
      }
      mapped->at = start + total;
      return lists.release();
    }
    if (faiss::VectorIOReader *memory = dynamic_cast<faiss::VectorIOReader *>(f))
      FAISS_THROW_IF_NOT_MSG(pad + total <= memory->data.size() - memory->rp, "ilbm: the buffer ends within the lists");
    auto lists = std::make_unique<faiss::BlockInvertedLists>(nlist, perBlock, blockSize);
    lists->code_size = codeSize;
    std::vector<uint8_t> skipped(ALIGNMENT);
    size_t at = 0;
    auto skipTo = [&](size_t offset) {
      get(skipped.data(), offset - at, "padding");
      at = offset;
    };
    get(skipped.data(), pad, "padding");
    for (size_t list = 0; list < nlist; list++)
    {
      skipTo(idsAt[list]);
      lists->ids[list].resize(sizes[list]);
      get(lists->ids[list].data(), sizes[list] * sizeof(idx_t), "ids");
      at += sizes[list] * sizeof(idx_t);
      skipTo(codesAt[list]);
      const size_t bytes = codeBytes(sizes[list], perBlock, blockSize);
      lists->codes[list].resize(bytes);
      get(lists->codes[list].data(), bytes, "codes");
      at += bytes;
    }
    skipTo(total);
    return lists.release();
  }
};

/** Registers the mappable form with faiss once per process (Init runs again in each worker thread). */
static void ddbRegisterMappableLists()
{
  static std::once_flag registered;
  std::call_once(registered, [] { faiss::InvertedListsIOHook::add_callback(new DdbMappableListsIOHook()); });
}

static faiss::Index *ddbIndexOf(const Napi::Env &env, const Napi::Value &value)
{
  if (value.IsObject())
  {
    Napi::Object object = value.As<Napi::Object>();
    if (Index::ddbHolds(object)) return Napi::ObjectWrap<Index>::Unwrap(object)->ddbIndex();
    if (IndexFlatIP::ddbHolds(object)) return Napi::ObjectWrap<IndexFlatIP>::Unwrap(object)->ddbIndex();
    if (IndexFlatL2::ddbHolds(object)) return Napi::ObjectWrap<IndexFlatL2>::Unwrap(object)->ddbIndex();
  }
  throw Napi::TypeError::New(env, "searchEach: every index must be a faiss-node Index, IndexFlatIP or IndexFlatL2.");
}

static Napi::Value readEach(const Napi::CallbackInfo &info)
{
  Napi::Env env = info.Env();
  const char *usage = "readEach(paths: string[], expectedCrc32?: (number | undefined)[])";
  if (info.Length() < 1 || info.Length() > 2 || !info[0].IsArray() ||
      (info.Length() == 2 && !info[1].IsArray() && !info[1].IsUndefined()))
    throw Napi::TypeError::New(env, usage);
  Napi::Array paths = info[0].As<Napi::Array>();
  const size_t n = paths.Length();
  std::vector<std::string> names(n);
  std::vector<std::optional<uLong>> expected(n);
  for (size_t i = 0; i < n; i++)
  {
    Napi::Value name = paths.Get(i);
    if (!name.IsString()) throw Napi::TypeError::New(env, "readEach: each path must be a string.");
    names[i] = name.As<Napi::String>().Utf8Value();
    if (info.Length() == 2 && info[1].IsArray())
    {
      Napi::Value crc = info[1].As<Napi::Array>().Get(i);
      if (crc.IsNumber()) expected[i] = static_cast<uLong>(crc.As<Napi::Number>().Int64Value());
      else if (!crc.IsUndefined()) throw Napi::TypeError::New(env, usage);
    }
  }
  std::vector<faiss::Index *> read(n, nullptr);
  std::vector<std::string> errors(n);
  std::vector<uLong> crcs(n);
  std::vector<size_t> sizes(n);
  // Not vector<bool>: its elements share bytes, and each thread sets its own.
  std::vector<uint8_t> contiguous(n, 0);
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t i = 0; i < n; i++)
  {
    try
    {
      auto file = std::make_shared<DdbMappedFile>(names[i]);
      crcs[i] = file->crc32Of();
      sizes[i] = file->size;
      // A file whose checksum is not the one expected is not parsed at all.
      if (expected[i] && *expected[i] != crcs[i]) continue;
      DdbMappedReader reader(file, names[i]);
      read[i] = faiss::read_index(&reader);
      faiss::IndexIVF *ivf = dynamic_cast<faiss::IndexIVF *>(read[i]);
      contiguous[i] = ivf && dynamic_cast<DdbContiguousLists *>(ivf->invlists);
    }
    catch (const std::exception &ex)
    {
      errors[i] = ex.what();
    }
  }
  for (size_t i = 0; i < n; i++)
  {
    if (!errors[i].empty())
    {
      for (faiss::Index *index : read) delete index;
      throw Napi::Error::New(env, names[i] + ": " + errors[i]);
    }
  }
  Napi::Array results = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; i++)
  {
    Napi::Object result = Napi::Object::New(env);
    if (read[i]) result.Set("index", Index::ddbAdopt(read[i]));
    read[i] = nullptr;
    result.Set("crc32", Napi::Number::New(env, static_cast<double>(crcs[i])));
    result.Set("bytes", Napi::Number::New(env, static_cast<double>(sizes[i])));
    result.Set("contiguous", Napi::Boolean::New(env, contiguous[i] != 0));
    results.Set(i, result);
  }
  return results;
}

/**
 * The byte offset of each row of rowsValue (a Float64Array of row numbers) in a file of rows of
 * rowBytesValue bytes each, for adviseRows and readRows.
 */
static std::vector<off_t> ddbRowOffsets(Napi::Env env, const char *name, const Napi::Value &rowBytesValue,
                                        const Napi::Value &rowsValue, size_t &rowBytes)
{
  const double bytes = rowBytesValue.As<Napi::Number>().DoubleValue();
  if (!(bytes >= 1 && bytes <= (1 << 30)) || bytes != static_cast<double>(static_cast<size_t>(bytes)))
    throw Napi::RangeError::New(env, std::string(name) + ": rowBytes must be a whole number from 1 to 2^30.");
  rowBytes = static_cast<size_t>(bytes);
  Napi::Float64Array rows = rowsValue.As<Napi::Float64Array>();
  // Offsets past 2^53 bytes would not be exact doubles, and no file here is near it.
  const double largest = 9007199254740992.0 / bytes;
  std::vector<off_t> offsets(rows.ElementLength());
  for (size_t i = 0; i < offsets.size(); i++)
  {
    const double row = rows[i];
    if (!(row >= 0 && row < largest) || row != static_cast<double>(static_cast<int64_t>(row)))
      throw Napi::RangeError::New(env, std::string(name) + ": rows[" + std::to_string(i) + "] is not a row number.");
    offsets[i] = static_cast<off_t>(row) * static_cast<off_t>(rowBytes);
  }
  return offsets;
}

static bool ddbIsTyped(const Napi::Value &value, napi_typedarray_type type)
{
  return value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == type;
}

/**
 * adviseRows(fd, rowBytes, rows): the kernel told that these rows of an open file are needed
 * soon (POSIX_FADV_WILLNEED, which starts reading the pages not cached and waits for none). Rows
 * advised together before any is read are then fetched side by side, where one read after
 * another waits for each: on this VM's disk 158 rows not cached took ~7.5 ms read one by one,
 * ~1.9 ms advised first; on NFS, as EFS is, each read is a round trip.
 */
static Napi::Value adviseRows(const Napi::CallbackInfo &info)
{
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsNumber() || !info[1].IsNumber() || !ddbIsTyped(info[2], napi_float64_array))
    throw Napi::TypeError::New(env, "adviseRows(fd: number, rowBytes: number, rows: Float64Array)");
  const int fd = info[0].As<Napi::Number>().Int32Value();
  size_t rowBytes = 0;
  // Advice only: a file system that ignores it is read as before.
  for (off_t offset : ddbRowOffsets(env, "adviseRows", info[1], info[2], rowBytes))
    posix_fadvise(fd, offset, static_cast<off_t>(rowBytes), POSIX_FADV_WILLNEED);
  return env.Undefined();
}

/**
 * readRows(fd, rowBytes, rows, into): rows of a fixed size read from an open file into one buffer,
 * in the order given, with one call from JS. Returns how many rows were read whole: fewer than
 * asked when the file ends before a row.
 */
static Napi::Value readRows(const Napi::CallbackInfo &info)
{
  Napi::Env env = info.Env();
  if (info.Length() != 4 || !info[0].IsNumber() || !info[1].IsNumber() || !ddbIsTyped(info[2], napi_float64_array) ||
      !ddbIsTyped(info[3], napi_uint8_array))
    throw Napi::TypeError::New(env, "readRows(fd: number, rowBytes: number, rows: Float64Array, into: Uint8Array)");
  const int fd = info[0].As<Napi::Number>().Int32Value();
  size_t rowBytes = 0;
  const std::vector<off_t> offsets = ddbRowOffsets(env, "readRows", info[1], info[2], rowBytes);
  Napi::Uint8Array into = info[3].As<Napi::Uint8Array>();
  if (into.ByteLength() < offsets.size() * rowBytes)
    throw Napi::RangeError::New(env, "readRows: into holds fewer than rows.length * rowBytes bytes.");
  uint8_t *out = into.Data();
  for (size_t i = 0; i < offsets.size(); i++)
  {
    for (size_t done = 0; done < rowBytes;)
    {
      const ssize_t read = pread(fd, out + i * rowBytes + done, rowBytes - done, offsets[i] + static_cast<off_t>(done));
      if (read < 0 && errno == EINTR) continue;
      if (read < 0) throw Napi::Error::New(env, std::string("readRows: ") + std::strerror(errno));
      if (read == 0) return Napi::Number::New(env, static_cast<double>(i));
      done += static_cast<size_t>(read);
    }
  }
  return Napi::Number::New(env, static_cast<double>(offsets.size()));
}

/**
 * writeMappable(index): the index as faiss writes it, except that fast-scan inverted lists take
 * the contiguous form (DdbMappableListsIOHook), which readEach leaves in the file's mapped pages.
 */
static Napi::Value writeMappable(const Napi::CallbackInfo &info)
{
  Napi::Env env = info.Env();
  if (info.Length() != 1) throw Napi::TypeError::New(env, "writeMappable(index: Index)");
  faiss::Index *index = ddbIndexOf(env, info[0]);
  faiss::VectorIOWriter writer;
  faiss::IndexIVF *ivf = dynamic_cast<faiss::IndexIVF *>(index);
  std::unique_ptr<DdbMappableView> view;
  if (ivf)
  {
    if (auto *blocks = dynamic_cast<faiss::BlockInvertedLists *>(ivf->invlists))
      view = std::make_unique<DdbMappableView>(blocks, blocks->n_per_block, blocks->block_size);
    else if (auto *contiguous = dynamic_cast<DdbContiguousLists *>(ivf->invlists))
      view = std::make_unique<DdbMappableView>(contiguous, contiguous->n_per_block, contiguous->block_size);
  }
  if (!view)
  {
    faiss::write_index(index, &writer);
    return Napi::Buffer<uint8_t>::Copy(env, writer.data.data(), writer.data.size());
  }
  // The view stands in for the lists while faiss writes the index around them.
  faiss::InvertedLists *lists = ivf->invlists;
  ivf->invlists = view.get();
  try
  {
    faiss::write_index(index, &writer);
  }
  catch (...)
  {
    ivf->invlists = lists;
    throw;
  }
  ivf->invlists = lists;
  return Napi::Buffer<uint8_t>::Copy(env, writer.data.data(), writer.data.size());
}

static Napi::Value searchEach(const Napi::CallbackInfo &info)
{
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsArray() || !info[1].IsTypedArray() || !info[2].IsArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "searchEach(indexes: Index[], query: Float32Array, ks: number[])");
  Napi::Array indexes = info[0].As<Napi::Array>();
  Napi::Float32Array query = info[1].As<Napi::Float32Array>();
  Napi::Array ks = info[2].As<Napi::Array>();
  const size_t n = indexes.Length();
  if (ks.Length() != n) throw Napi::Error::New(env, "searchEach: one k per index.");
  std::vector<faiss::Index *> targets(n);
  std::vector<idx_t> kOf(n);
  for (size_t i = 0; i < n; i++)
  {
    targets[i] = ddbIndexOf(env, indexes.Get(i));
    if (query.ElementLength() != static_cast<size_t>(targets[i]->d))
      throw Napi::Error::New(env, "searchEach: the query has " + std::to_string(query.ElementLength()) +
                                      " dimensions, index " + std::to_string(i) + " " +
                                      std::to_string(targets[i]->d) + ".");
    Napi::Value k = ks.Get(i);
    if (!k.IsNumber()) throw Napi::TypeError::New(env, "searchEach: each k must be a number.");
    kOf[i] = k.As<Napi::Number>().Int64Value();
    if (kOf[i] < 1 || kOf[i] > targets[i]->ntotal)
      throw Napi::Error::New(env, "searchEach: k " + std::to_string(kOf[i]) + " of index " + std::to_string(i) +
                                      " is not within 1.." + std::to_string(targets[i]->ntotal) + ".");
  }
  std::vector<std::vector<float>> distances(n);
  std::vector<std::vector<idx_t>> labels(n);
  std::vector<std::string> errors(n);
  const float *x = query.Data();
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t i = 0; i < n; i++)
  {
    try
    {
      distances[i].resize(kOf[i]);
      labels[i].resize(kOf[i]);
      targets[i]->search(1, x, kOf[i], distances[i].data(), labels[i].data());
    }
    catch (const std::exception &ex)
    {
      errors[i] = ex.what();
    }
  }
  Napi::Array results = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; i++)
  {
    if (!errors[i].empty()) throw Napi::Error::New(env, errors[i]);
    Napi::Float32Array d = Napi::Float32Array::New(env, kOf[i]);
    Napi::Float64Array l = Napi::Float64Array::New(env, kOf[i]);
    for (idx_t j = 0; j < kOf[i]; j++)
    {
      d[j] = distances[i][j];
      l[j] = static_cast<double>(labels[i][j]);
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("distances", d);
    result.Set("labels", l);
    results.Set(i, result);
  }
  return results;
}

`,
};

/**
 * faiss-node's source with {@link SOURCE_PATCH}. Throws when the source is not the one the
 * patch was written for.
 * @param {string} source
 */
export function withSourcePatch(source) {
  let patched = source;
  const replaceOnce = (head, replacement, what) => {
    if (patched.split(head).length !== 2) throw new Error(`faiss-node's source has no single ${what} to patch`);
    patched = patched.replace(head, replacement);
  };
  for (const call of ['add', 'train']) {
    const head = `  Napi::Value ${call}(const Napi::CallbackInfo &info)\n  {\n    Napi::Env env = info.Env();\n\n`;
    replaceOnce(head, `${head}${SOURCE_PATCH.float32Branch(call)}`, `${call}()`);
  }
  const members = 'protected:\n  std::unique_ptr<faiss::Index> index_;';
  replaceOnce(members, `${SOURCE_PATCH.indexAccess}${members}`, 'index_ member');
  const search = '      InstanceMethod("search", &Index::search),\n';
  replaceOnce(search, `${search}      InstanceMethod("setNprobe", &Index::setNprobe),\n`, 'Index search method');
  const include = '#include <faiss/IndexFlat.h>\n';
  replaceOnce(
    include,
    include +
      [
        'faiss/IndexIVF.h',
        'faiss/impl/FaissAssert.h',
        'faiss/impl/io.h',
        'faiss/invlists/BlockInvertedLists.h',
        'faiss/invlists/InvertedListsIOHook.h',
        'zlib.h',
        'fcntl.h',
        'sys/mman.h',
        'sys/stat.h',
        'unistd.h',
        'cerrno',
        'cstdio',
        'cstring',
        'memory',
        'mutex',
        'optional',
      ]
        .map((header) => `#include <${header}>\n`)
        .join(''),
    'IndexFlat include',
  );
  const init = 'Napi::Object Init(Napi::Env env, Napi::Object exports)\n{\n';
  replaceOnce(
    init,
    `${SOURCE_PATCH.eachFunctions}${init}  exports.Set("searchEach", Napi::Function::New(env, searchEach));\n` +
      `  exports.Set("readEach", Napi::Function::New(env, readEach));\n` +
      `  exports.Set("writeMappable", Napi::Function::New(env, writeMappable));\n` +
      `  exports.Set("adviseRows", Napi::Function::New(env, adviseRows));\n` +
      `  exports.Set("readRows", Napi::Function::New(env, readRows));\n  ddbRegisterMappableLists();\n`,
    'Init()',
  );
  return patched;
}

/**
 * npm's own node-gyp: npm names it to the scripts it runs; otherwise it is in the npm beside
 * this Node (Node's tarball, the Lambda base image) or in the npm on PATH (Debian's).
 */
function npmNodeGyp() {
  const inNpm = (npmDir) => path.join(npmDir, 'node_modules/node-gyp/bin/node-gyp.js');
  const candidates = [
    process.env.npm_config_node_gyp,
    inNpm(path.join(path.dirname(process.execPath), '../lib/node_modules/npm')),
  ];
  const npmOnPath = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim();
  if (npmOnPath) candidates.push(inNpm(path.resolve(path.dirname(realpathSync(npmOnPath)), '..')));
  return candidates.find((candidate) => candidate && existsSync(candidate));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const faissLib = process.argv[2];
  if (!faissLib) {
    console.error('usage: node scripts/faiss-node-binding.js <libfaiss.a>');
    process.exit(2);
  }
  const started = Date.now();
  buildFaissNode({ root: process.cwd(), faissLib, log: (message) => console.log(`ddb-faiss: ${message}`) });
  console.log(`ddb-faiss: faiss-node ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
