// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "metrika",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "metrika", targets: ["metrika"]),
    ],
    targets: [
        .systemLibrary(name: "CRabbitMQ", path: "Sources/CRabbitMQ", pkgConfig: "librabbitmq"),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3"),
        .systemLibrary(name: "CMicroHTTPD", path: "Sources/CMicroHTTPD", pkgConfig: "libmicrohttpd"),
        .target(name: "MetrikaDomain"),
        .target(name: "MetrikaStore", dependencies: ["CSQLite", "MetrikaDomain"]),
        .target(name: "MetrikaAMQP", dependencies: ["CRabbitMQ"]),
        .target(
            name: "MetrikaGateway",
            dependencies: ["MetrikaDomain", "MetrikaStore", "MetrikaAMQP"],
            resources: [.copy("Resources/catalog.json")]
        ),
        .target(name: "MetrikaReports", dependencies: ["MetrikaDomain", "MetrikaStore"]),
        .target(name: "MetrikaHTTP", dependencies: ["CMicroHTTPD", "MetrikaDomain", "MetrikaStore", "MetrikaGateway", "MetrikaReports"]),
        .executableTarget(name: "metrika", dependencies: ["MetrikaGateway", "MetrikaReports", "MetrikaHTTP"]),
        .executableTarget(name: "metrika-bench", dependencies: ["MetrikaAMQP", "MetrikaDomain"], path: "Sources/MetrikaBench"),
        .target(
            name: "MetrikaTestSupport",
            dependencies: ["MetrikaAMQP", "MetrikaGateway", "MetrikaStore", "MetrikaDomain"],
            path: "Tests/MetrikaTestSupport"
        ),
        .target(name: "ContractSupport", path: "Tests/ContractSupport"),
        .testTarget(name: "MetrikaDomainTests", dependencies: ["MetrikaDomain", "ContractSupport"], exclude: ["Samples"]),
        .testTarget(
            name: "MetrikaIntegrationTests",
            dependencies: ["MetrikaGateway", "MetrikaStore", "MetrikaAMQP", "MetrikaReports", "MetrikaHTTP", "MetrikaTestSupport", "ContractSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
