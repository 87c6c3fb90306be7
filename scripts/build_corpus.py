r"""Build ``tinytorch/data/corpus.txt``: the shipped question/answer text for the language models.

Every sentence here was written for this project. The corpus mixes hand-written facts (colors,
animals, everyday life, the ideas behind tinytorch) with template-made questions (arithmetic,
counting, letters, spelling), so a tiny character-level model finds regular patterns to learn
while the text stays varied. The pairs are shuffled with a fixed seed and written as
``Q: ...\nA: ...\n\n`` in plain ASCII, so running the script again gives the same file byte for
byte (a test checks that).

    .venv/bin/python scripts/build_corpus.py
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "tinytorch" / "data" / "corpus.txt"
SEED = 2017

Pair = tuple[str, str]

NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                "ten", "eleven", "twelve"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]

COLORS = [
    ("the sky on a clear day", "The sky on a clear day is blue."),
    ("fresh grass", "Fresh grass is green."),
    ("a ripe banana", "A ripe banana is yellow."),
    ("a ripe tomato", "A ripe tomato is red."),
    ("snow", "Snow is white."),
    ("coal", "Coal is black."),
    ("an orange", "An orange is orange."),
    ("a lemon", "A lemon is yellow."),
    ("a lime", "A lime is green."),
    ("milk", "Milk is white."),
    ("the sun in a drawing", "The sun in a drawing is usually yellow."),
    ("a carrot", "A carrot is orange."),
    ("a strawberry", "A strawberry is red."),
    ("a blueberry", "A blueberry is dark blue."),
    ("chocolate", "Chocolate is brown."),
    ("a polar bear", "A polar bear is white."),
    ("a crow", "A crow is black."),
    ("a flamingo", "A flamingo is pink."),
    ("an eggplant", "An eggplant is purple."),
    ("a pumpkin", "A pumpkin is orange."),
    ("the sea on a sunny day", "The sea on a sunny day looks blue."),
    ("a fire truck", "A fire truck is usually red."),
    ("a school bus", "A school bus is often yellow."),
    ("a cloud on a rainy day", "A cloud on a rainy day is gray."),
    ("a leaf in summer", "A leaf in summer is green."),
    ("a leaf in autumn", "A leaf in autumn turns red, orange or brown."),
    ("tree bark", "Tree bark is brown."),
    ("a zebra", "A zebra is black and white."),
    ("a panda", "A panda is black and white."),
    ("a frog", "A frog is often green."),
]

COLOR_MIXES = [
    ("red", "yellow", "orange"),
    ("blue", "yellow", "green"),
    ("red", "blue", "purple"),
    ("black", "white", "gray"),
    ("red", "white", "pink"),
]

# name, sound (verb phrase or None), legs, home, food, kind
ANIMALS = [
    ("dog", "barks", 4, "in a house or a kennel", "meat and dog food", "mammal"),
    ("cat", "meows", 4, "in a house", "fish and meat", "mammal"),
    ("cow", "moos", 4, "on a farm", "grass", "mammal"),
    ("horse", "neighs", 4, "on a farm or in a stable", "grass and hay", "mammal"),
    ("sheep", "baas", 4, "on a farm", "grass", "mammal"),
    ("pig", "oinks", 4, "on a farm", "almost anything", "mammal"),
    ("duck", "quacks", 2, "near a pond", "seeds and small bugs", "bird"),
    ("chicken", "clucks", 2, "on a farm", "seeds and grain", "bird"),
    ("owl", "hoots", 2, "in a tree", "mice and insects", "bird"),
    ("lion", "roars", 4, "on the savanna", "meat", "mammal"),
    ("frog", "croaks", 4, "near a pond", "insects", "amphibian"),
    ("snake", "hisses", 0, "on the ground or in trees", "mice and eggs", "reptile"),
    ("bee", "buzzes", 6, "in a hive", "nectar and pollen", "insect"),
    ("fish", None, 0, "in water", "small plants and bugs", "fish"),
    ("spider", None, 8, "in a web", "insects", "arachnid"),
    ("ant", None, 6, "in a nest under the ground", "seeds and crumbs", "insect"),
    ("rabbit", None, 4, "in a burrow", "grass and carrots", "mammal"),
    ("monkey", "chatters", 4, "in the jungle", "fruit and leaves", "mammal"),
    ("elephant", "trumpets", 4, "on the savanna or in forests", "grass and leaves", "mammal"),
    ("penguin", None, 2, "on the ice near the sea", "fish", "bird"),
    ("wolf", "howls", 4, "in the forest", "meat", "mammal"),
    ("mouse", "squeaks", 4, "in a hole in the wall or a field", "seeds and cheese", "mammal"),
    ("crab", None, 10, "on the beach and in the sea", "small sea animals", "crustacean"),
    ("octopus", None, 8, "in the sea", "crabs and fish", "mollusk"),
    ("eagle", "screeches", 2, "in a nest high up", "fish and small animals", "bird"),
]

OPPOSITES = [
    ("hot", "cold"), ("big", "small"), ("up", "down"), ("day", "night"), ("fast", "slow"),
    ("open", "closed"), ("happy", "sad"), ("wet", "dry"), ("full", "empty"), ("light", "dark"),
    ("early", "late"), ("young", "old"), ("hard", "soft"), ("loud", "quiet"), ("left", "right"),
    ("in", "out"), ("tall", "short"), ("heavy", "light"), ("near", "far"), ("first", "last"),
    ("clean", "dirty"), ("push", "pull"), ("win", "lose"), ("give", "take"), ("true", "false"),
]

PLURALS = [
    ("cat", "cats"), ("box", "boxes"), ("mouse", "mice"), ("child", "children"),
    ("foot", "feet"), ("tooth", "teeth"), ("sheep", "sheep"), ("leaf", "leaves"),
    ("bus", "buses"), ("baby", "babies"), ("man", "men"), ("woman", "women"),
    ("goose", "geese"), ("knife", "knives"), ("city", "cities"), ("fish", "fish"),
    ("tensor", "tensors"), ("matrix", "matrices"),
]

SHAPES = [("triangle", 3), ("square", 4), ("rectangle", 4), ("pentagon", 5), ("hexagon", 6),
          ("octagon", 8), ("circle", 0)]

SPELL_WORDS = ["cat", "dog", "sun", "tree", "book", "milk", "fish", "bird", "rain", "moon",
               "star", "cake", "ball", "door", "hand", "blue", "red", "green", "home", "loss",
               "grad", "data", "model", "layer"]

EVERYDAY = [
    ("How many days are in a week?", "There are seven days in a week."),
    ("How many months are in a year?", "There are twelve months in a year."),
    ("How many hours are in a day?", "There are 24 hours in a day."),
    ("How many minutes are in an hour?", "There are 60 minutes in an hour."),
    ("How many seconds are in a minute?", "There are 60 seconds in a minute."),
    ("How many days are in a year?", "There are 365 days in a year, or 366 in a leap year."),
    ("What do we use an umbrella for?", "We use an umbrella to stay dry in the rain."),
    ("What do we use a spoon for?", "We use a spoon to eat soup."),
    ("What do we use a key for?", "We use a key to open a lock."),
    ("What do we use a pencil for?", "We use a pencil to write and draw."),
    ("What do we use a clock for?", "We use a clock to tell the time."),
    ("What do we use soap for?", "We use soap to wash our hands."),
    ("What do we use a bed for?", "We use a bed to sleep."),
    ("What do we use a cup for?", "We use a cup to drink."),
    ("Where does the sun rise?", "The sun rises in the east."),
    ("Where does the sun set?", "The sun sets in the west."),
    ("What falls from clouds when it rains?", "Water falls from clouds when it rains."),
    ("What is ice?", "Ice is frozen water."),
    ("At what temperature does water freeze?", "Water freezes at 0 degrees Celsius."),
    ("At what temperature does water boil?", "Water boils at 100 degrees Celsius at sea level."),
    ("What do plants need to grow?", "Plants need light, water and air to grow."),
    ("What do bees make?", "Bees make honey."),
    ("What do cows give us?", "Cows give us milk."),
    ("What do hens lay?", "Hens lay eggs."),
    ("What is the biggest planet?", "Jupiter is the biggest planet."),
    ("What do we see in the sky at night?", "We see the moon and the stars at night."),
    ("What season comes after winter?", "Spring comes after winter."),
    ("What season comes after spring?", "Summer comes after spring."),
    ("What season comes after summer?", "Autumn comes after summer."),
    ("What season comes after autumn?", "Winter comes after autumn."),
    ("How many seasons are there?", "There are four seasons."),
    ("How many fingers are on one hand?", "There are five fingers on one hand."),
    ("How many toes does a person have?", "A person has ten toes."),
    ("What do we breathe?", "We breathe air."),
    ("What do we hear with?", "We hear with our ears."),
    ("What do we see with?", "We see with our eyes."),
    ("What do we smell with?", "We smell with our nose."),
    ("What do we taste with?", "We taste with our tongue."),
    ("Why do we wear a coat?", "We wear a coat to stay warm."),
    ("Why do we sleep?", "We sleep so the body and the brain can rest."),
    ("What makes a rainbow?", "Sunlight shining through raindrops makes a rainbow."),
    ("How many colors are in a rainbow?", "A rainbow has seven colors."),
    ("What is a baby dog called?", "A baby dog is called a puppy."),
    ("What is a baby cat called?", "A baby cat is called a kitten."),
    ("What is a baby cow called?", "A baby cow is called a calf."),
    ("What is a baby sheep called?", "A baby sheep is called a lamb."),
    ("What is a baby frog called?", "A baby frog is called a tadpole."),
    ("What is a baby duck called?", "A baby duck is called a duckling."),
]

FRAMEWORK = [
    ("What is a tensor?", "A tensor is a grid of numbers with a shape, like a list of lists."),
    ("What is the shape of a tensor?", "The shape says how many numbers lie along each axis."),
    ("What is a scalar?", "A scalar is a tensor with no axes: just one number."),
    ("What is a vector?", "A vector is a tensor with one axis."),
    ("What is a matrix?", "A matrix is a tensor with two axes: rows and columns."),
    ("What is a gradient?", "A gradient tells how much the loss changes when a number changes."),
    ("What does backward do?",
     "Backward walks the graph from the loss and fills in every gradient."),
    ("What is the chain rule?",
     "The chain rule multiplies local slopes along a path to get a gradient."),
    ("What is autograd?", "Autograd records each operation so gradients can be found for you."),
    ("What is a loss?", "A loss is one number that says how wrong the model is."),
    ("What is a model?", "A model is a function with parameters that we can learn."),
    ("What is a parameter?", "A parameter is a number in the model that training changes."),
    ("What is a weight?", "A weight is a parameter that scales an input."),
    ("What is a bias?", "A bias is a parameter that is added after the weights."),
    ("What is an optimizer?", "An optimizer uses the gradients to update the parameters."),
    ("What does SGD do?", "SGD moves each parameter a small step against its gradient."),
    ("What does Adam do?",
     "Adam adapts the step size of each parameter from its recent gradients."),
    ("What is the learning rate?", "The learning rate sets how big each update step is."),
    ("What happens if the learning rate is too big?",
     "If the learning rate is too big, the loss jumps around or grows."),
    ("What happens if the learning rate is too small?",
     "If the learning rate is too small, training is very slow."),
    ("What is an epoch?", "An epoch is one full pass over the training data."),
    ("What is a batch?", "A batch is a small group of examples used for one step."),
    ("What is a layer?", "A layer is a building block that turns inputs into outputs."),
    ("What does a linear layer do?",
     "A linear layer multiplies by a weight matrix and adds a bias."),
    ("What does ReLU do?", "ReLU keeps positive numbers and turns negative numbers into zero."),
    ("What does sigmoid do?", "Sigmoid squeezes any number into the range from 0 to 1."),
    ("What does softmax do?", "Softmax turns a list of scores into probabilities that sum to 1."),
    ("What is cross entropy?",
     "Cross entropy is a loss for classes: low when the right class gets high probability."),
    ("What is overfitting?",
     "Overfitting is when a model learns the training data but fails on new data."),
    ("What does dropout do?",
     "Dropout zeroes random units during training so the model does not rely on one."),
    ("What is a convolution?",
     "A convolution slides a small filter over an image and sums the products."),
    ("What does pooling do?",
     "Pooling shrinks an image by keeping the max or the mean of each patch."),
    ("What is a token?", "A token is a small piece of text, like a character or a word part."),
    ("What is an embedding?", "An embedding maps each token to a vector of learned numbers."),
    ("What is attention?",
     "Attention lets each token look at other tokens and mix in what matters."),
    ("What is a causal mask?",
     "A causal mask stops a token from looking at tokens that come after it."),
    ("What is a transformer?",
     "A transformer stacks attention and MLP blocks with residual paths."),
    ("What is a KV cache?", "A KV cache keeps past keys and values so generation does less work."),
    ("What is quantization?",
     "Quantization stores numbers with fewer bits, like int8 instead of float32."),
    ("What is pruning?", "Pruning sets small weights to zero to make a model smaller."),
    ("What is a validation set?",
     "A validation set is data held back to check how well the model generalizes."),
    ("Why do we shuffle the data?", "We shuffle the data so each batch is a fair sample."),
    ("What does zero_grad do?", "zero_grad clears old gradients before the next backward pass."),
    ("What does the training loop do?",
     "It runs forward, computes the loss, runs backward, and steps the optimizer."),
    ("What is a GPT?",
     "A GPT is a transformer that predicts the next token from the tokens before it."),
    ("What is tinytorch?",
     "tinytorch is a small deep learning framework built from scratch on NumPy."),
]


def a_or_an(word: str) -> str:
    """Return the word with the right English article in front of it."""
    return ("an " if word[0] in "aeiou" else "a ") + word


def arithmetic(rng: random.Random) -> list[Pair]:
    """Sums, differences and products of small numbers, in words and symbols."""
    pairs: list[Pair] = []
    sums = rng.sample([(a, b) for a in range(13) for b in range(13)], 60)
    pairs += [(f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}.") for a, b in sums]
    diffs = rng.sample([(a, b) for a in range(21) for b in range(a + 1)], 40)
    pairs += [(f"What is {a} minus {b}?", f"{a} minus {b} is {a - b}.") for a, b in diffs]
    prods = rng.sample([(a, b) for a in range(1, 11) for b in range(1, 11)], 45)
    pairs += [(f"What is {a} times {b}?", f"{a} times {b} is {a * b}.") for a, b in prods]
    symbolic = rng.sample([(a, b) for a in range(10) for b in range(10)], 20)
    pairs += [(f"What is {a} + {b}?", f"{a} + {b} = {a + b}.") for a, b in symbolic]
    halves = rng.sample(range(1, 21), 10)
    pairs += [(f"What is half of {2 * n}?", f"Half of {2 * n} is {n}.") for n in halves]
    words = rng.sample([(a, b) for a in range(7) for b in range(7) if a + b <= 12], 15)
    pairs += [
        (f"What is {NUMBER_WORDS[a]} plus {NUMBER_WORDS[b]}?",
         f"{NUMBER_WORDS[a].capitalize()} plus {NUMBER_WORDS[b]} is {NUMBER_WORDS[a + b]}.")
        for a, b in words
    ]
    return pairs


def counting(rng: random.Random) -> list[Pair]:
    """Next and previous numbers, parity and comparisons."""
    pairs: list[Pair] = []
    pairs += [(f"What number comes after {n}?", f"{n + 1} comes after {n}.")
              for n in rng.sample(range(0, 100), 20)]
    pairs += [(f"What number comes before {n}?", f"{n - 1} comes before {n}.")
              for n in rng.sample(range(1, 100), 15)]
    pairs += [(f"Is {n} even or odd?", f"{n} is {'even' if n % 2 == 0 else 'odd'}.")
              for n in rng.sample(range(0, 50), 20)]
    for a, b in [rng.sample(range(1, 60), 2) for _ in range(15)]:
        pairs.append((f"Which is bigger, {a} or {b}?", f"{max(a, b)} is bigger than {min(a, b)}."))
    return pairs


def calendar() -> list[Pair]:
    """Days of the week and months of the year, in order."""
    pairs: list[Pair] = []
    for i, day in enumerate(DAYS):
        pairs.append((f"What day comes after {day}?", f"{DAYS[(i + 1) % 7]} comes after {day}."))
    for i, month in enumerate(MONTHS):
        nxt = MONTHS[(i + 1) % 12]
        pairs.append((f"What month comes after {month}?", f"{nxt} comes after {month}."))
    pairs.append(("What is the first day of the week?", "Many calendars start the week on Monday."))
    pairs.append(("What is the first month of the year?",
                  "January is the first month of the year."))
    pairs.append(("What is the last month of the year?", "December is the last month of the year."))
    return pairs


def letters() -> list[Pair]:
    """The alphabet in order, and spelling short words."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    pairs = [(f"What letter comes after {a}?", f"{b} comes after {a}.")
             for a, b in zip(alphabet, alphabet[1:], strict=False)]
    pairs += [(f"How do you spell {w}?", f"The word {w} is spelled {'-'.join(w.upper())}.")
              for w in SPELL_WORDS]
    pairs.append(("How many letters are in the alphabet?", "There are 26 letters in the alphabet."))
    return pairs


def colors() -> list[Pair]:
    """Colors of things, and what two paints make when mixed."""
    pairs = [(f"What color is {thing}?", answer) for thing, answer in COLORS]
    pairs += [(f"What do you get if you mix {a} and {b}?", f"Mixing {a} and {b} gives {c}.")
              for a, b, c in COLOR_MIXES]
    return pairs


def animals() -> list[Pair]:
    """Sounds, legs, homes, food and kinds of animals, from one table."""
    pairs: list[Pair] = []
    for name, sound, legs, home, food, kind in ANIMALS:
        the, an = f"the {name}", a_or_an(name)
        cap = an.capitalize()
        if sound is not None:
            pairs.append((f"What sound does {an} make?", f"{cap} {sound}."))
        count = "no" if legs == 0 else (NUMBER_WORDS[legs] if legs <= 12 else str(legs))
        pairs.append((f"How many legs does {an} have?", f"{cap} has {count} legs."))
        pairs.append((f"Where does {an} live?", f"{cap} lives {home}."))
        pairs.append((f"What does {the} eat?", f"The {name} eats {food}."))
        pairs.append((f"What kind of animal is {an}?", f"{cap} is {a_or_an(kind)}."))
    return pairs


def words_and_shapes() -> list[Pair]:
    """Opposites, plurals and the sides of shapes."""
    pairs = [(f"What is the opposite of {a}?", f"The opposite of {a} is {b}.")
             for a, b in OPPOSITES]
    pairs += [(f"What is the plural of {a}?", f"The plural of {a} is {b}.") for a, b in PLURALS]
    for shape, sides in SHAPES:
        if sides == 0:
            pairs.append((f"How many sides does {a_or_an(shape)} have?",
                          f"{a_or_an(shape).capitalize()} has no straight sides."))
        else:
            pairs.append((f"How many sides does {a_or_an(shape)} have?",
                          f"{a_or_an(shape).capitalize()} has {NUMBER_WORDS[sides]} sides."))
    return pairs


def build_pairs(seed: int = SEED) -> list[Pair]:
    """All question/answer pairs, shuffled with ``seed`` and free of duplicate questions."""
    rng = random.Random(seed)
    pairs = (arithmetic(rng) + counting(rng) + calendar() + letters() + colors() + animals()
             + words_and_shapes() + EVERYDAY + FRAMEWORK)
    seen: set[str] = set()
    unique = []
    for question, answer in pairs:
        if question not in seen:
            seen.add(question)
            unique.append((question, answer))
    rng.shuffle(unique)
    return unique


def build_corpus(seed: int = SEED) -> str:
    """The corpus text: every pair as a ``Q:`` line and an ``A:`` line, then a blank line."""
    text = "".join(f"Q: {q}\nA: {a}\n\n" for q, a in build_pairs(seed))
    text.encode("ascii")  # fails loudly if a non-ASCII character slipped into the tables
    return text


def main() -> None:
    """Write the corpus next to the package's other shipped data."""
    sys.path.insert(0, str(ROOT))  # so the script runs from a checkout without installing
    from tinytorch.core.serialization import atomic_write_text

    text = build_corpus()
    atomic_write_text(TARGET, text)
    print(f"wrote {TARGET}: {len(build_pairs())} pairs, {len(text.encode('ascii'))} bytes")


if __name__ == "__main__":
    main()
